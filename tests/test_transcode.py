"""The real ffmpeg on generated clips: probe validation, the one-pass ladder, HLS and poster.

Clips are small and short, and encodes use ``-preset ultrafast``: what is checked is which
renditions come out at which sizes, in which containers, from how many ffmpeg runs.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from fractions import Fraction
from pathlib import Path

import ffmpeg
import pytest
from PIL import Image, ImageStat

from media_worker import errors, ladder, storyboard
from media_worker import probe as pr
from media_worker import transcode as tc
from tests.media_samples import SampleFactory, make_clip

FAST = "ultrafast"


@pytest.fixture(scope="session")
def samples(tmp_path_factory) -> SampleFactory:
    return SampleFactory(tmp_path_factory.mktemp("media-samples"))


def streams(path: Path) -> dict[str, dict]:
    info = ffmpeg.probe(str(path))
    return {s["codec_type"]: s for s in info["streams"]} | {"format": info["format"]}


def parse_master(text: str) -> list[dict[str, str]]:
    """The variants of an HLS master playlist: attributes plus ``uri``."""
    lines = text.splitlines()
    assert lines[0] == "#EXTM3U"
    variants = []
    for i, line in enumerate(lines):
        if line.startswith("#EXT-X-STREAM-INF:"):
            attrs = dict(re.findall(r'([A-Z-]+)=("[^"]*"|[^,]*)', line.split(":", 1)[1]))
            attrs = {k: v.strip('"') for k, v in attrs.items()}
            attrs["uri"] = lines[i + 1]
            variants.append(attrs)
    return variants


def moov_before_mdat(path: Path) -> bool:
    data = path.read_bytes()[:200_000]
    return 0 <= data.find(b"moov") < data.find(b"mdat") or b"mdat" not in data


CASES = {
    # sample name: the (width, height) of each rendition, smallest first
    "landscape_1080": [(640, 360), (1280, 720), (1920, 1080)],
    "portrait_silent": [(360, 640), (720, 1280)],
    # Between rungs: only the rung below (there is no "480p" role), never upscaled to 720.
    "sd_853x480": [(640, 360)],
    "one_second": [(320, 240)],
    "vfr": [(320, 240)],
    "rotated": [(360, 640)],
    "odd_321x241": [(320, 240)],
}


def sample(samples: SampleFactory, name: str) -> Path:
    if name == "odd_321x241":
        return samples.get(name, lambda p: make_clip(p, width=321, height=241, seconds=1))
    return getattr(samples, name)()


@pytest.mark.slow
@pytest.mark.parametrize("name", CASES)
def test_ladder(samples, tmp_path, name):
    source = sample(samples, name)
    progress: list[float] = []
    result = tc.transcode(source, tmp_path / "out", preset=FAST, on_progress=progress.append)
    expected = CASES[name]

    assert [(r.width, r.height) for r in result.renditions] == expected
    assert [r.role for r in result.renditions] == ["mp4_360", "mp4_720", "mp4_1080"][: len(expected)]
    for rendition in result.renditions:
        info = streams(rendition.path_mp4)
        video, audio = info["video"], info["audio"]
        assert (video["width"], video["height"]) == (rendition.width, rendition.height)
        assert video["codec_name"] == "h264" and video["pix_fmt"] == "yuv420p"
        assert video.get("sample_aspect_ratio", "1:1") in ("1:1", "N/A")
        # Every rendition has sound, silent sources included (documented decision).
        assert audio["codec_name"] == "aac" and audio["channels"] == 2
        assert float(info["format"]["duration"]) == pytest.approx(result.probe.duration, abs=0.25)
        assert moov_before_mdat(rendition.path_mp4), "MP4 is not faststart"
        assert rendition.bitrate > 0 and rendition.bandwidth >= rendition.average_bandwidth > 0

    variants = parse_master(result.hls_master.read_text())
    assert [v["RESOLUTION"] for v in variants] == [f"{w}x{h}" for w, h in expected]
    for variant, rendition in zip(variants, result.renditions, strict=True):
        assert int(variant["BANDWIDTH"]) == rendition.bandwidth
        assert re.fullmatch(r"avc1\.[0-9a-f]{6},mp4a\.40\.2", variant["CODECS"])
        playlist = result.hls_master.parent / variant["uri"]
        assert playlist == rendition.playlist
        text = playlist.read_text()
        assert "#EXT-X-ENDLIST" in text and "#EXT-X-PLAYLIST-TYPE:VOD" in text
        segments = [playlist.parent / line for line in text.splitlines() if line.endswith(".ts")]
        assert segments and all(s.is_file() and s.stat().st_size > 0 for s in segments)
        assert set(segments) == set(rendition.segments)
        first = streams(segments[0])
        assert (first["video"]["width"], first["video"]["height"]) == (rendition.width, rendition.height)

    poster = streams(result.poster)["video"]
    assert poster["codec_name"] == "mjpeg"
    assert (poster["width"], poster["height"]) == expected[-1] == result.poster_size
    assert result.poster.read_bytes()[:3] == b"\xff\xd8\xff"

    assert progress and progress[-1] == 1.0
    assert progress == sorted(progress) and all(0 <= p <= 1 for p in progress)

    produced = {relative for relative, _, _ in result.files()}
    on_disk = {p.relative_to(result.out_dir).as_posix() for p in result.out_dir.rglob("*") if p.is_file()}
    assert produced == on_disk


def test_segments_start_on_keyframes_every_two_seconds(tmp_path):
    source = make_clip(tmp_path / "five.mp4", width=320, height=180, seconds=5, fps=30)
    result = tc.transcode(source, tmp_path / "out", preset=FAST)
    (rendition,) = result.renditions
    durations = [float(x) for x in re.findall(r"#EXTINF:([0-9.]+)", rendition.playlist.read_text())]
    assert durations == pytest.approx([2.0, 2.0, 1.0], abs=0.05)
    keyframes = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v:0", "-skip_frame", "nokey", "-show_entries",
         "frame=pts_time", "-of", "csv=p=0", str(rendition.path_mp4)],
        capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    assert [round(float(t.split(",")[0]), 2) for t in keyframes] == [0.0, 2.0, 4.0]


def test_one_ffmpeg_invocation_running_the_built_command(samples, tmp_path, monkeypatch):
    source = samples.landscape_1080()
    launched: list[list[str]] = []
    real_popen = subprocess.Popen

    def recording_popen(argv, *args, **kwargs):
        launched.append(list(argv))
        return real_popen(argv, *args, **kwargs)

    monkeypatch.setattr(subprocess, "Popen", recording_popen)
    probed = pr.probe(source)
    launched.clear()  # ffprobe runs are not the encode
    result = tc.transcode(source, tmp_path / "out", preset=FAST, probe_result=probed)

    ffmpeg_runs = [argv for argv in launched if Path(argv[0]).name == "ffmpeg"]
    assert len(ffmpeg_runs) == 1 and len(launched) == 1
    plans = ladder.plan_renditions(probed)
    board = storyboard.plan_storyboard(probed.duration, plans[-1])
    built = tc.build_command(source, probed, plans, preset=FAST, storyboard=board)
    assert ffmpeg_runs[0] == result.command == built
    argv = ffmpeg_runs[0]
    # Decoded once (one input file), normalised once to the top rung's size, split, each
    # smaller rung scaled from that (and the storyboard's thumbnails), and every rung encoded by
    # one encoder on one tee output.
    assert argv.count("-i") == 1
    filters = argv[argv.index("-filter_complex") + 1]
    assert sorted(re.findall(r"scale=(\d+):\d+", filters), key=int) == ["160", "640", "1280", "1920"]
    assert filters.count("split=5") == 1
    assert filters.count("trim=start=") == 1
    assert argv.count("tee") == 1 and argv.count("libx264") == 1
    tee = next(a for a in argv if a.count("|") == 5)
    assert tee.count("f=mp4") == 3 and tee.count("f=hls") == 3


def test_hdr_is_tone_mapped_to_8_bit_bt709(samples, tmp_path):
    probed = pr.probe(samples.hdr_hlg())
    assert probed.hdr and probed.pix_fmt == "yuv420p10le"
    result = tc.transcode(samples.hdr_hlg(), tmp_path / "out", preset=FAST, probe_result=probed)
    assert any("tonemap" in arg for arg in result.command)
    video = streams(result.renditions[0].path_mp4)["video"]
    assert video["pix_fmt"] == "yuv420p" and video["profile"] != "High 10"
    assert video.get("color_transfer") == "bt709" and video.get("color_primaries") == "bt709"
    assert not pr.probe(result.renditions[0].path_mp4).hdr


def test_silent_source_gets_a_generated_track_and_one_audio_encode(samples):
    probed = pr.probe(samples.portrait_silent())
    assert not probed.has_audio
    argv = tc.build_command(samples.portrait_silent(), probed, ladder.plan_renditions(probed))
    assert any(a.startswith("anullsrc=") for a in argv)
    assert argv.count("-acodec") == 1


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("empty", "empty"),
        ("text_as_mp4", "not_media"),
        ("audio_only", "no_video"),
        ("truncated", "truncated"),
        ("truncated_index_last", "truncated"),
    ],
)
def test_bad_inputs_are_refused_with_a_reason(samples, tmp_path, name, code):
    source = getattr(samples, name)()
    with pytest.raises(errors.InvalidMedia) as refused:
        pr.probe(source)
    assert refused.value.code == code
    assert re.search(r"[\u4e00-\u9fff]", refused.value.message_zh)
    # transcode probes first, so it refuses the same way without starting ffmpeg.
    with pytest.raises(errors.InvalidMedia):
        tc.transcode(source, tmp_path / "out", preset=FAST)
    assert not any((tmp_path / "out").rglob("*.*"))


@pytest.mark.parametrize(
    "text",
    [
        "#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1,\nfile:///etc/passwd\n#EXT-X-ENDLIST\n",
        "ffconcat version 1.0\nfile /etc/passwd\n",
    ],
    ids=["hls", "concat"],
)
def test_playlists_posing_as_videos_are_not_opened(tmp_path, text):
    upload = tmp_path / "upload.mp4"
    upload.write_text(text)
    with pytest.raises(errors.InvalidMedia) as refused:
        pr.probe(upload)
    assert refused.value.code == "not_media"
    assert "whitelist" in refused.value.detail or "Invalid data" in refused.value.detail


def test_limits(samples):
    with pytest.raises(errors.InvalidMedia) as too_long:
        pr.probe(samples.one_second(), max_duration=0.4)
    assert too_long.value.code == "too_long" and "秒" in too_long.value.message_zh
    assert pr.probe(samples.one_second(), max_duration=1).duration == pytest.approx(1.0, abs=0.05)
    with pytest.raises(errors.InvalidMedia) as too_big:
        pr.probe(samples.landscape_1080(), max_side=1280)
    assert too_big.value.code == "resolution_too_large"


def test_probe_describes_what_a_viewer_sees(samples):
    rotated = pr.probe(samples.rotated())
    assert (rotated.width, rotated.height, rotated.rotation) == (640, 360, 90)
    assert (rotated.display_width, rotated.display_height) == (360, 640) and rotated.portrait
    vfr = pr.probe(samples.vfr())
    # Matroska claims a timebase-derived rate; the measured one is what the encode uses.
    assert 12 <= vfr.fps <= 30
    silent = pr.probe(samples.portrait_silent())
    assert not silent.has_audio and silent.audio_index is None


def test_timeout_kills_ffmpeg_and_removes_partial_outputs(samples, tmp_path):
    out = tmp_path / "out"
    with pytest.raises(errors.TranscodeTimeout) as stopped:
        tc.transcode(samples.landscape_1080(), out, preset="medium", timeout=0.3)
    assert stopped.value.message_zh
    assert [p for p in out.rglob("*") if p.is_file()] == []


def _children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except FileNotFoundError:
        return []


def _command_line(pid: int) -> str:
    """The process's command line; empty once it has gone (a child such as the ffprobe that runs
    before ffmpeg can end between being listed and being read)."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_text()
    except FileNotFoundError:
        return ""


def _running(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie waiting to be reaped."""
    try:
        return "State:\tZ" not in Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False


def test_ffmpeg_dies_with_a_killed_worker(samples, tmp_path):
    """A worker killed with SIGKILL must not leave its ffmpeg running on."""
    script = (
        "import sys; from media_worker.transcode import transcode; "
        "transcode(sys.argv[1], sys.argv[2], preset='slower')"
    )
    worker = subprocess.Popen(
        [sys.executable, "-c", script, str(samples.landscape_1080()), str(tmp_path / "out")],
        cwd=Path(__file__).resolve().parent.parent,
    )
    ffmpeg_pid = None
    try:
        deadline = time.monotonic() + 30
        while ffmpeg_pid is None and time.monotonic() < deadline and worker.poll() is None:
            ffmpeg_pid = next(
                (c for c in _children(worker.pid) if "ffmpeg" in _command_line(c)),
                None,
            )
            time.sleep(0.02)
        assert ffmpeg_pid, "ffmpeg never started"
        worker.kill()
        worker.wait()
        # The slow preset keeps an orphaned ffmpeg busy for many seconds; a tied one dies at once.
        deadline = time.monotonic() + 2
        while _running(ffmpeg_pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _running(ffmpeg_pid)
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
        if ffmpeg_pid and _running(ffmpeg_pid):
            os.kill(ffmpeg_pid, signal.SIGKILL)  # the test failed; do not leave it running


def test_ffmpeg_failure_is_reported_and_cleaned_up(samples, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("the caller's file")
    with pytest.raises(errors.TranscodeError) as failed:
        tc.transcode(samples.one_second(), out, preset="no-such-preset")
    assert failed.value.code == "ffmpeg_failed" and failed.value.detail
    assert [p.name for p in out.rglob("*") if p.is_file()] == ["keep.txt"]


def test_a_full_disk_during_the_encode_is_never_taken_for_a_broken_upload(samples, tmp_path):
    from tests.fault_support import small_filesystem

    clip = make_clip(tmp_path / "clip.mp4", width=640, height=360, seconds=4)
    # Depending on which output fills the disk, ffmpeg fails, or carries on without its HLS
    # segments and exits 0 with outputs cut short: either way a transient error, to be retried.
    with small_filesystem("700k") as disk:
        with pytest.raises((OSError, errors.TranscodeError)) as failed:
            tc.transcode(clip, disk / "out")
        assert not [p for p in (disk / "out").rglob("*") if p.is_file()]
    assert not isinstance(failed.value, errors.InvalidMedia), failed.value


def test_a_failing_progress_callback_does_not_stop_the_encode(samples, tmp_path):
    def broken(_fraction: float) -> None:
        raise ConnectionError("redis went away")

    result = tc.transcode(samples.one_second(), tmp_path / "out", preset=FAST, on_progress=broken)
    assert result.renditions[0].path_mp4.is_file()


def _source(width: int, height: int, fps: str = "30") -> pr.ProbeResult:
    return pr.ProbeResult(
        duration=10.0, width=width, height=height, display_width=width, display_height=height,
        rotation=0, fps=float(Fraction(fps)), avg_frame_rate=fps, video_codec="h264",
        pix_fmt="yuv420p", video_index=0, has_audio=True, audio_codec="aac", audio_index=1,
        container="mov,mp4", size_bytes=1, bit_rate=None,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("size", "max_height", "expected"),
    [
        ((3840, 2160), 1080, [(640, 360), (1280, 720), (1920, 1080)]),
        ((3840, 2160), 720, [(640, 360), (1280, 720)]),
        ((1080, 1920), 1080, [(360, 640), (720, 1280), (1080, 1920)]),
        ((1921, 1081), 1080, [(640, 360), (1280, 720), (1920, 1080)]),
        ((1280, 720), 1080, [(640, 360), (1280, 720)]),
        ((1279, 719), 1080, [(640, 360)]),
        ((853, 480), 1080, [(640, 360)]),
        ((480, 480), 1080, [(360, 360)]),
        ((2560, 1080), 1080, [(854, 360), (1706, 720), (2560, 1080)]),
        ((321, 241), 1080, [(320, 240)]),
        ((176, 144), 1080, [(176, 144)]),
        ((101, 361), 1080, [(100, 360)]),
    ],
)
def test_plan_renditions(size, max_height, expected):
    plans = ladder.plan_renditions(_source(*size), max_height=max_height)
    assert [(p.width, p.height) for p in plans] == expected
    assert all(p.width % 2 == 0 and p.height % 2 == 0 for p in plans)


@pytest.mark.parametrize(
    ("rate", "expected"),
    [
        ("30", Fraction(30)),
        ("30000/1001", Fraction(30000, 1001)),
        ("29.6", Fraction(30000, 1001)),
        ("25", Fraction(25)),
        ("120", Fraction(60)),
        ("240", Fraction(60)),
        ("10", Fraction(10)),
        ("22.4", Fraction(22)),
    ],
)
def test_output_frame_rate(rate, expected):
    assert ladder.output_frame_rate(_source(640, 360, rate)) == expected


# --------------------------------------------------------------------------------------------
# Storyboards (seek previews): one more output of the same pass.


def _xywh_cues(text: str) -> list[tuple[float, float, str, tuple[int, ...]]]:
    def seconds(stamp: str) -> float:
        h, m, s = stamp.split(":")
        return int(h) * 3600 + int(m) * 60 + float(s)

    cues = re.findall(r"([\d:.]+) --> ([\d:.]+)\n(\S+)#xywh=(\d+),(\d+),(\d+),(\d+)", text)
    return [(seconds(a), seconds(b), src, tuple(int(n) for n in xywh)) for a, b, src, *xywh in cues]


def test_the_storyboard_comes_from_the_one_ffmpeg_run(samples, tmp_path, monkeypatch):
    source = samples.portrait_silent()
    probed = pr.probe(source)
    launched: list[list[str]] = []
    real_popen = subprocess.Popen

    def recording_popen(argv, *args, **kwargs):
        launched.append(list(argv))
        return real_popen(argv, *args, **kwargs)

    monkeypatch.setattr(subprocess, "Popen", recording_popen)
    result = tc.transcode(source, tmp_path / "out", preset=FAST, probe_result=probed)

    assert len(launched) == 1 and Path(launched[0][0]).name == "ffmpeg"
    filters = launched[0][launched[0].index("-filter_complex") + 1]
    # The source is read once (the other input of a silent source is the generated audio).
    assert launched[0].count(str(Path(source).resolve())) == 1 and "tile=" in filters
    assert launched[0][-1] == "storyboard.jpg"
    assert result.storyboard_sprite.read_bytes()[:3] == b"\xff\xd8\xff"


def test_the_storyboard_tiles_cover_the_whole_duration_inside_the_sprite(samples, tmp_path):
    result = tc.transcode(samples.portrait_silent(), tmp_path / "out", preset=FAST)
    cues = _xywh_cues(result.storyboard.read_text())
    sprite = streams(result.storyboard_sprite)["video"]

    assert cues[0][0] == 0.0
    assert cues[-1][1] == pytest.approx(result.probe.duration, abs=0.001)
    assert all(cue[1] == following[0] for cue, following in zip(cues, cues[1:], strict=False))  # no gap
    assert {src for _, _, src, _ in cues} == {"storyboard.jpg"}
    for _, _, _, (x, y, w, h) in cues:
        # Portrait stays portrait, and every tile lies inside the sprite.
        assert h > w and x + w <= sprite["width"] and y + h <= sprite["height"]
    assert len({xywh for *_, xywh in cues}) == len(cues)


def test_a_clip_under_half_a_second_gets_its_one_thumbnail(tmp_path):
    # Before, no sprite came out at all: the transcode failed as if by chance and was retried.
    clip = make_clip(tmp_path / "blink.mp4", width=320, height=180, seconds=0.3, audio=False)
    result = tc.transcode(clip, tmp_path / "out", preset=FAST)
    assert len(_xywh_cues(result.storyboard.read_text())) == 1
    assert result.storyboard_sprite.read_bytes()[:3] == b"\xff\xd8\xff"


def test_the_last_thumbnail_is_drawn_when_the_clip_ends_just_past_a_whole_second(tmp_path):
    clip = make_clip(tmp_path / "clip.mp4", width=320, height=180, seconds=2.3, audio=False)
    result = tc.transcode(clip, tmp_path / "out", preset=FAST)
    cues = _xywh_cues(result.storyboard.read_text())
    assert len(cues) == 3
    with Image.open(result.storyboard_sprite) as sprite:
        for *_, (x, y, w, h) in cues:
            # testsrc2 is bright everywhere; a cell the tile filter padded is black.
            assert ImageStat.Stat(sprite.convert("L").crop((x, y, x + w, y + h))).mean[0] > 30


def test_a_transcode_without_the_storyboard_writes_none(samples, tmp_path):
    result = tc.transcode(samples.tiny(), tmp_path / "out", preset=FAST, storyboard=False)
    assert result.storyboard is None and not (tmp_path / "out" / "storyboard.jpg").exists()


@pytest.mark.parametrize(
    ("seconds", "interval", "count", "grid"),
    [(4, 1, 4, "4x1"), (60, 1, 60, "10x6"), (1200, 12, 100, "10x10"), (0.5, 1, 1, "1x1")],
)
def test_plan_storyboard(seconds, interval, count, grid):
    top = ladder.RenditionPlan(ladder.LADDER[2], 1920, 1080)
    plan = storyboard.plan_storyboard(seconds, top)
    assert (plan.interval, plan.count, plan.tile, plan.width, plan.height) == (interval, count, grid, 160, 90)
