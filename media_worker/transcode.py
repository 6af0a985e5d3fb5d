"""Probe an uploaded video and build its whole rendition ladder in ONE ffmpeg run.

Pure: paths and options in, files and a :class:`ProbeResult` out. No Flask, no database, no Redis;
the job module (``media_worker.jobs``) moves files to storage and updates rows.

:func:`probe` asks ffprobe three cheap questions before any CPU is spent on encoding: can the
container be read at all, does the first video packet decode, and can the last seconds be read
(a half-uploaded MP4 whose index sits at the front looks perfect until the data runs out). Anything
wrong raises :class:`InvalidMedia` with a stable ``code`` for the program and a ``message_zh`` for
the uploader.

:func:`transcode` runs exactly the argv returned by :func:`build_command`: the source is decoded
once and normalised once (constant frame rate, the top rung's size, SDR, 8-bit 4:2:0), then
``split`` feeds one libx264 encoder per rung (the smaller rungs each through their own scaler) and
a poster branch. Each encoded stream goes through the ``tee`` muxer
into two containers at once, a faststart MP4 and an HLS variant (MPEG-TS segments), so nothing is
encoded twice and nothing is remuxed afterwards. The master playlist is written here from what
was actually produced (peak and average segment bitrates, the avc1 profile/level read back from
the MP4's ``avcC`` box), so its BANDWIDTH and CODECS are true rather than guessed.

Decisions:

- Ladder: 360p, 720p, 1080p applied to the SHORT side, so portrait stays portrait (720x1280 gives
  360x640 and 720x1280). Never upscaled; a source smaller than 360 on its short side gets a single
  rendition at its own size. A source between rungs (853x480) gets only the rungs below it
  (640x360): the data model has one role per rung (``mp4_360``/``mp4_720``/``mp4_1080``), and a
  "720p" label on a 480-line picture would mislead viewers and the bitrate ladder alike. Sizes are
  made even (H.264 4:2:0 needs it).
- Sources without audio get a silent AAC track (``anullsrc``) so every rendition has the same
  stream layout: hls.js and Safari switch variants more reliably, and the MP4 fallback behaves the
  same whatever was uploaded. It costs a few kB per minute. Audio is encoded ONCE and shared by all
  rungs through the tee muxer's ``select``.
- Frame rate: the source's average rate, snapped to the nearest common rate within 2 % (phones
  record "29.6 fps" variable rate), capped at 60; the ``fps`` filter makes it constant, which the
  HLS segmenter and every player want.
- Keyframes every :data:`SEGMENT_SECONDS` (``-g``/``-keyint_min``, ``-sc_threshold 0`` and
  ``-force_key_frames`` on the same grid) so every HLS segment starts with one and all variants
  switch at the same instants.
- HDR sources (PQ or HLG, as iPhones record by default) are tone-mapped to SDR BT.709 8-bit
  (zscale + tonemap=hable): H.264 High 8-bit plays everywhere, and untreated HDR looks washed out.
- HLS segments are MPEG-TS rather than fMP4: every HLS client plays TS, and hls.js handles both.
  Layout under ``out_dir``: ``360p.mp4``…, ``hls/master.m3u8``, ``hls/360p/index.m3u8`` +
  ``seg_00000.ts``…, ``poster.jpg``; playlists refer to each other relatively, so upload the tree
  under one prefix as it is (:meth:`TranscodeResult.files`).
- Only real containers are opened (:data:`SOURCE_FORMATS`, ``file:`` protocol only): an "MP4"
  that is really an HLS or concat playlist could otherwise make ffmpeg read server files.
- Metadata and chapters are dropped (``-map_metadata -1``): phone videos carry GPS positions.
- The ffmpeg child gets ``PR_SET_PDEATHSIG``: if the worker dies (SIGKILL, OOM) ffmpeg dies with
  it instead of burning CPU for a job that will be run again.
"""

from __future__ import annotations

import collections
import ctypes
import dataclasses
import errno
import json
import logging
import math
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from fractions import Fraction
from pathlib import Path

import ffmpeg

log = logging.getLogger(__name__)

FFMPEG = os.environ.get("FFMPEG_BINARY", "ffmpeg")
FFPROBE = os.environ.get("FFPROBE_BINARY", "ffprobe")

SEGMENT_SECONDS = 2
AUDIO_BITRATE = 128_000
AUDIO_SAMPLE_RATE = 48_000
AUDIO_CODECS = "mp4a.40.2"  # AAC-LC, what ffmpeg's native aac encoder writes
DEFAULT_PRESET = "veryfast"
DEFAULT_CRF = 23
MAX_OUTPUT_FPS = 60
DEFAULT_MAX_SIDE = 4096
PROBE_TIMEOUT = 60.0
STANDARD_RATES = (
    Fraction(24000, 1001),
    Fraction(24),
    Fraction(25),
    Fraction(30000, 1001),
    Fraction(30),
    Fraction(48),
    Fraction(50),
    Fraction(60000, 1001),
    Fraction(60),
)
# Demuxers a source may be read with: the containers cameras, phones and editors write. Anything
# else is refused before it is parsed; above all playlists (HLS, concat), whose entries make
# ffmpeg open other files or URLs - the known way to smuggle a server's files into a video.
SOURCE_FORMATS = "mov,matroska,avi,mpegts,flv,asf,mpeg"
SOURCE_INPUT_OPTIONS = {"format_whitelist": SOURCE_FORMATS, "protocol_whitelist": "file"}
HDR_TRANSFERS = frozenset({"smpte2084", "arib-std-b67"})
# Seconds read at the end of a file to prove its last part is really there.
TAIL_SECONDS = 3.0
# Less free space than this where the outputs go, after a run that came out short, is a full
# disk rather than a short source: ffmpeg does not always fail when a write fails (the HLS muxer
# carries on without its segments and exits 0).
DISK_FULL_BYTES = 1024 * 1024

MASTER_PLAYLIST = "hls/master.m3u8"
POSTER = "poster.jpg"

CONTENT_TYPES = {
    ".mp4": "video/mp4",
    ".m3u8": "application/vnd.apple.mpegurl",
    ".ts": "video/mp2t",
    ".jpg": "image/jpeg",
}


@dataclasses.dataclass(frozen=True)
class Rung:
    """One step of the ladder: the short-side size it is named after and its rate cap."""

    label: int
    maxrate: int

    @property
    def bufsize(self) -> int:
        # Two seconds of buffer: one segment's worth of burst either side of the average.
        return self.maxrate * 2


LADDER = (Rung(360, 1_000_000), Rung(720, 3_000_000), Rung(1080, 6_000_000))


# --------------------------------------------------------------------------------------------
# Errors


class MediaError(Exception):
    """Base of the errors this module raises; ``code`` is stable, ``message_zh`` is for people."""

    code = "media_error"

    def __init__(self, code: str, message_zh: str, detail: str = "") -> None:
        super().__init__(f"{code}: {detail or message_zh}")
        self.code = code
        self.message_zh = message_zh
        self.detail = detail


class InvalidMedia(MediaError):
    """The upload itself is unusable; retrying cannot help."""


class TranscodeError(MediaError):
    """ffmpeg failed on a file that probed fine (disk full, killed, a codec corner case)."""


class TranscodeTimeout(TranscodeError):
    """ffmpeg ran past the time limit and was killed."""


# --------------------------------------------------------------------------------------------
# Probe


@dataclasses.dataclass(frozen=True)
class ProbeResult:
    """What the worker needs to know about a source before encoding it.

    ``width``/``height`` are the coded size; ``display_width``/``display_height`` are what a
    viewer sees after the rotation matrix and a non-square sample aspect ratio are applied, and
    are what the ladder is planned from.
    """

    duration: float
    width: int
    height: int
    display_width: int
    display_height: int
    rotation: int
    fps: float
    avg_frame_rate: str
    video_codec: str
    pix_fmt: str
    video_index: int
    has_audio: bool
    audio_codec: str | None
    audio_index: int | None
    container: str
    size_bytes: int
    bit_rate: int | None
    start_time: float = 0.0
    color_transfer: str | None = None

    @property
    def hdr(self) -> bool:
        """PQ (HDR10) or HLG: what recent phones record by default."""
        return self.color_transfer in HDR_TRANSFERS

    @property
    def portrait(self) -> bool:
        return self.display_height > self.display_width

    @property
    def short_side(self) -> int:
        return min(self.display_width, self.display_height)


def _fmt_seconds(seconds: float) -> str:
    minutes, secs = divmod(int(round(seconds)), 60)
    return f"{minutes} 分 {secs} 秒" if minutes else f"{secs} 秒"


def _ffprobe(args: list[str], path: Path, timeout: float) -> tuple[str, str]:
    restrict = [item for k, v in SOURCE_INPUT_OPTIONS.items() for item in (f"-{k}", v)]
    argv = [FFPROBE, "-hide_banner", "-v", "error", *restrict, *args, str(path.resolve())]
    try:
        done = subprocess.run(argv, capture_output=True, timeout=timeout, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as exc:
        raise InvalidMedia(
            "probe_timeout", "读取视频信息超时，文件可能已损坏。", f"ffprobe ran over {timeout}s"
        ) from exc
    stdout = done.stdout.decode("utf-8", "replace")
    stderr = done.stderr.decode("utf-8", "replace")
    if done.returncode != 0:
        if "moov atom not found" in stderr and _starts_like_mp4(path):
            # The commonest broken upload: a phone MP4 (index written last) cut off part way.
            raise InvalidMedia(
                "truncated",
                "视频文件不完整（可能上传中断或文件已损坏），请重新上传完整的文件。",
                "MP4 without its moov index",
            )
        raise InvalidMedia(
            "not_media",
            "无法识别的文件格式：这不是一个可以播放的视频文件。",
            stderr.strip()[-500:] or f"ffprobe exited with {done.returncode}",
        )
    return stdout, stderr


def _starts_like_mp4(path: Path) -> bool:
    with path.open("rb") as fh:
        return fh.read(12)[4:8] == b"ftyp"


def _fraction(value: str | None) -> Fraction | None:
    try:
        rate = Fraction(value) if value else None
    except (ValueError, ZeroDivisionError):
        return None
    return rate if rate and rate > 0 else None


def _float(value) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _rotation(stream: dict) -> int:
    for side in stream.get("side_data_list") or []:
        if "rotation" in side:
            return int(round(float(side["rotation"]))) % 360
    rotate = (stream.get("tags") or {}).get("rotate")
    return int(rotate) % 360 if rotate and rotate.lstrip("-").isdigit() else 0


def _is_picture(stream: dict) -> bool:
    # Cover art in an MP3/M4A shows up as a one-frame "video" stream; it is not a video.
    disposition = stream.get("disposition") or {}
    return stream.get("codec_type") == "video" and not disposition.get("attached_pic")


def probe(
    path: str | os.PathLike[str],
    *,
    max_duration: float | None = None,
    max_side: int | None = DEFAULT_MAX_SIDE,
    timeout: float = PROBE_TIMEOUT,
) -> ProbeResult:
    """Describe ``path`` with ffprobe, or raise :class:`InvalidMedia` saying why it is unusable.

    ``max_duration`` (seconds) and ``max_side`` (pixels on the longer displayed side) are the
    limits the caller enforces; ``None`` disables one.
    """
    path = Path(path)
    try:
        size = path.stat().st_size
    except FileNotFoundError as exc:
        raise InvalidMedia("missing", "找不到上传的文件，请重新上传。", str(path)) from exc
    if size == 0:
        raise InvalidMedia("empty", "文件是空的（0 字节），请重新上传。")

    stdout, _ = _ffprobe(["-show_format", "-show_streams", "-of", "json"], path, timeout)
    info = json.loads(stdout or "{}")
    streams = info.get("streams") or []
    fmt = info.get("format") or {}
    videos = [s for s in streams if _is_picture(s)]
    if not videos:
        if streams:
            raise InvalidMedia("no_video", "文件中没有视频画面（可能是纯音频文件），请上传视频。")
        raise InvalidMedia("not_media", "无法识别的文件格式：这不是一个可以播放的视频文件。")
    video = videos[0]
    audio = next((s for s in streams if s.get("codec_type") == "audio"), None)

    width, height = int(video.get("width") or 0), int(video.get("height") or 0)
    if width <= 0 or height <= 0:
        raise InvalidMedia("undecodable", "无法读取视频画面尺寸，文件可能已损坏。")
    rotation = _rotation(video)
    sar = _fraction((video.get("sample_aspect_ratio") or "").replace(":", "/")) or Fraction(1)
    display_width, display_height = max(1, round(width * sar)), height
    if rotation in (90, 270):
        display_width, display_height = display_height, display_width
    if max_side and max(display_width, display_height) > max_side:
        raise InvalidMedia(
            "resolution_too_large",
            f"视频分辨率 {display_width}×{display_height} 超过上限（最长边 {max_side} 像素）。",
        )

    start_time = _float(video.get("start_time")) or _float(fmt.get("start_time")) or 0.0
    stream_duration = _float(video.get("duration"))
    duration = stream_duration or _float(fmt.get("duration"))

    _check_first_frame(path, video["index"], timeout)
    if duration:
        packets = _check_tail(
            path, video["index"], start_time, duration, exact=stream_duration is not None, timeout=timeout
        )
    else:
        # Live recordings (browser MediaRecorder WebM, some streams) carry no duration:
        # read every packet header, which is quick because nothing is decoded.
        packets = _read_packets(path, video["index"], None, timeout)[0]
        duration = max((end for _, end in packets), default=start_time) - start_time
    rate = _frame_rate(video, fmt, packets)
    if duration <= 0:
        raise InvalidMedia("undecodable", "无法确定视频时长，文件可能已损坏。")
    if max_duration is not None and duration > max_duration + 0.5:
        raise InvalidMedia(
            "too_long",
            f"视频时长 {_fmt_seconds(duration)}，超过了上限 {_fmt_seconds(max_duration)}。",
        )

    return ProbeResult(
        duration=duration,
        width=width,
        height=height,
        display_width=display_width,
        display_height=display_height,
        rotation=rotation,
        fps=float(rate),
        avg_frame_rate=str(rate),
        video_codec=video.get("codec_name", "unknown"),
        pix_fmt=video.get("pix_fmt", "unknown"),
        video_index=int(video["index"]),
        has_audio=audio is not None,
        audio_codec=audio.get("codec_name") if audio else None,
        audio_index=int(audio["index"]) if audio else None,
        container=fmt.get("format_name", "unknown"),
        size_bytes=size,
        bit_rate=int(fmt["bit_rate"]) if str(fmt.get("bit_rate", "")).isdigit() else None,
        start_time=start_time,
        color_transfer=video.get("color_transfer"),
    )


def _check_first_frame(path: Path, index: int, timeout: float) -> None:
    stdout, _ = _ffprobe(
        [
            "-select_streams",
            str(index),
            "-read_intervals",
            "%+#5",
            "-show_entries",
            "frame=pts_time",
            "-of",
            "csv=p=0",
        ],
        path,
        timeout,
    )
    if not stdout.strip():
        raise InvalidMedia("undecodable", "视频画面无法解码，文件可能已损坏或使用了不支持的编码。")


def _frame_rate(video: dict, fmt: dict, packets: list[tuple[float, float]]) -> Fraction:
    """The source's average frame rate.

    MP4/MOV demuxers compute ``avg_frame_rate`` from the sample table, so it is exact. Matroska
    and others often report a timebase-derived figure (a 24 fps WebM shows up as "120"), so
    there it is checked against the rate measured on the packets read at the end of the file.
    """
    avg = _fraction(video.get("avg_frame_rate"))
    if avg and fmt.get("format_name", "").startswith("mov,"):
        return avg
    pts = sorted(p for p, _ in packets)
    measured = None
    if len(pts) >= 3 and pts[-1] - pts[0] >= 0.5:
        measured = Fraction((len(pts) - 1) / (pts[-1] - pts[0])).limit_denominator(1001)
    if avg and (measured is None or abs(avg - measured) / measured <= Fraction(1, 4)):
        return avg
    return measured or _fraction(video.get("r_frame_rate")) or Fraction(30)


def _read_packets(
    path: Path, index: int, since: float | None, timeout: float
) -> tuple[list[tuple[float, float]], str]:
    """(pts, end) of the video packets from ``since`` (seconds, absolute) to the end, and stderr."""
    args = ["-select_streams", str(index)]
    if since is not None:
        args += ["-read_intervals", f"{since:.3f}%"]
    args += ["-show_entries", "packet=pts_time,duration_time", "-of", "csv=p=0"]
    stdout, stderr = _ffprobe(args, path, timeout)
    packets = []
    for line in stdout.splitlines():
        fields = line.split(",")
        pts = _float(fields[0])
        if pts is not None:
            length = _float(fields[1]) if len(fields) > 1 else None
            packets.append((pts, pts + (length or 0.0)))
    return packets, stderr


def _check_tail(
    path: Path, index: int, start: float, duration: float, *, exact: bool, timeout: float
) -> list[tuple[float, float]]:
    """Read the last seconds of the video stream; raise ``truncated`` if they are not there."""
    packets, stderr = _read_packets(path, index, max(start, start + duration - TAIL_SECONDS), timeout)
    last = max((end for _, end in packets), default=0.0)
    # A stream duration from the index (MP4) is exact; a container duration may include audio
    # that runs past the picture, so it gets more slack before we call the file cut short.
    slack = 1.0 + 0.02 * duration if exact else 5.0 + 0.05 * duration
    if "partial file" in stderr or not packets or last < start + duration - slack:
        raise InvalidMedia(
            "truncated",
            "视频文件不完整（可能上传中断或文件已损坏），请重新上传完整的文件。",
            f"last packet ends at {last:.2f}s of {duration:.2f}s",
        )
    return packets


# --------------------------------------------------------------------------------------------
# Plan


@dataclasses.dataclass(frozen=True)
class RenditionPlan:
    """One output rendition: its ladder rung, pixel size and the files it will be written to."""

    rung: Rung
    width: int
    height: int

    @property
    def name(self) -> str:
        return f"{self.rung.label}p"

    @property
    def mp4(self) -> str:
        return f"{self.name}.mp4"

    @property
    def playlist(self) -> str:
        return f"hls/{self.name}/index.m3u8"

    @property
    def segment_pattern(self) -> str:
        return f"hls/{self.name}/seg_%05d.ts"


def _even_floor(value: float) -> int:
    return max(2, int(value) // 2 * 2)


def _even_round(value: float) -> int:
    return max(2, int(round(value / 2)) * 2)


def plan_renditions(source: ProbeResult, *, max_height: int = 1080) -> list[RenditionPlan]:
    """The rungs this source gets, smallest first; sizes in displayed orientation, even."""
    if max_height < LADDER[0].label:
        raise ValueError(f"max_height must be at least {LADDER[0].label}")
    long_side = max(source.display_width, source.display_height)
    short_side = source.short_side
    plans = []
    for rung in LADDER:
        if rung.label > short_side or rung.label > max_height:
            break
        if rung.label == short_side:
            size = (_even_floor(short_side), _even_floor(long_side))
        else:
            size = (rung.label, _even_round(long_side * rung.label / short_side))
        plans.append(size + (rung,))
    if not plans:
        plans.append((_even_floor(short_side), _even_floor(long_side), LADDER[0]))
    return [
        RenditionPlan(rung, *((long_, short) if not source.portrait else (short, long_)))
        for short, long_, rung in plans
    ]


def output_frame_rate(source: ProbeResult) -> Fraction:
    """Constant output rate: the source's average, snapped to a common rate, at most 60."""
    rate = Fraction(source.avg_frame_rate).limit_denominator(1001)
    nearest = min(STANDARD_RATES, key=lambda standard: abs(rate - standard))
    if abs(rate - nearest) / nearest <= Fraction(2, 100):
        rate = nearest
    else:
        rate = Fraction(max(1, round(rate)))
    while rate > MAX_OUTPUT_FPS:
        # Halving keeps the motion cadence (120 -> 60) where capping would judder.
        rate /= 2
    return rate


def poster_time(duration: float) -> float:
    """Where the poster frame is taken: 10 % in (past fade-ins and black leaders), at most 10 s."""
    return round(min(duration * 0.1, 10.0), 3)


# --------------------------------------------------------------------------------------------
# Command


def _tee_slave(options: dict[str, str], target: str) -> str:
    # The tee muxer parses "[k=v:k=v]file"; a value with ':' or ',' is single-quoted and the
    # quotes themselves escaped, as the tee documentation shows for select=.
    rendered = ":".join(
        f"{k}=\\'{v}\\'" if any(c in v for c in ":,") else f"{k}={v}" for k, v in options.items()
    )
    return f"[{rendered}]{target}"


def _tone_map(stream):
    """HDR (PQ/HLG, 10-bit BT.2020) to SDR BT.709 8-bit.

    Without it an iPhone's HLG video comes out grey and washed out on every SDR screen. Applied
    after the scale to the top rung, so a 4K source is tone-mapped at 1080p, not at 4K.
    """
    return (
        stream.filter("zscale", t="linear", npl=100)
        .filter("format", "gbrpf32le")
        .filter("zscale", p="bt709")
        .filter("tonemap", tonemap="hable", desat=0)
        .filter("zscale", t="bt709", m="bt709", r="tv")
        .filter("format", "yuv420p")
    )


def encoder_threads_for(rungs: int, cpus: int | None = None) -> int:
    """x264 threads per rung when ``rungs`` encoders share the machine's cores."""
    cpus = cpus or os.cpu_count() or 1
    return max(2, cpus // max(rungs, 1) + 1)


def build_command(
    source_path: str | os.PathLike[str],
    source: ProbeResult,
    renditions: list[RenditionPlan],
    *,
    preset: str = DEFAULT_PRESET,
    crf: int = DEFAULT_CRF,
    ffmpeg_cmd: str = FFMPEG,
) -> list[str]:
    """The one ffmpeg argv that writes every output; run it with ``cwd`` set to the out dir.

    Output paths are relative so that nothing in the tee specification needs escaping.
    """
    fps = output_frame_rate(source)
    gop = max(1, round(fps * SEGMENT_SECONDS))
    duration = f"{source.duration:.3f}"
    src = ffmpeg.input(str(Path(source_path).resolve()), **SOURCE_INPUT_OPTIONS)

    # Normalise once, then split: constant rate, the top rung's size (so a 4K source is
    # scaled down once, not once per rung), SDR if the source is HDR, 8-bit 4:2:0, square
    # pixels. Each smaller rung is scaled from that shared stream and the poster is cut from
    # it. (Chaining 1080 -> 720 -> 360 instead measured ~8 % more CPU in bench/transcode.py.)
    top = renditions[-1]
    shared = src[str(source.video_index)].filter("fps", fps=str(fps)).filter("scale", top.width, top.height)
    if source.hdr:
        shared = _tone_map(shared)
    branches = shared.filter("format", "yuv420p").filter("setsar", "1").split()
    scaled = [
        branches[i] if plan is top else branches[i].filter("scale", plan.width, plan.height)
        for i, plan in enumerate(renditions)
    ]
    poster = branches[len(renditions)].filter("trim", start=poster_time(source.duration))
    if source.has_audio:
        # apad + atrim: the audio track spans exactly the picture, so no variant ends early
        # or runs on in silence past the last frame.
        audio = (
            src[str(source.audio_index)]
            .filter("aresample", AUDIO_SAMPLE_RATE)
            .filter("aformat", sample_fmts="fltp", channel_layouts="stereo")
            .filter("apad")
            .filter("atrim", duration=duration)
        )
    else:
        audio = ffmpeg.input(f"anullsrc=r={AUDIO_SAMPLE_RATE}:cl=stereo:d={duration}", f="lavfi").audio

    slaves = []
    per_stream: dict[str, object] = {}
    # The rungs encode side by side, so each x264 needs fewer threads than it would take alone
    # (by default 1.5 per core each): fewer threads fighting for the same cores, less CPU.
    encoder_threads = encoder_threads_for(len(renditions))
    for i, plan in enumerate(renditions):
        select = f"v:{i},a"
        slaves.append(_tee_slave({"select": select, "f": "mp4", "movflags": "+faststart"}, plan.mp4))
        slaves.append(
            _tee_slave(
                {
                    "select": select,
                    "f": "hls",
                    "hls_time": str(SEGMENT_SECONDS),
                    "hls_playlist_type": "vod",
                    "hls_flags": "independent_segments",
                    "hls_segment_type": "mpegts",
                    "hls_segment_filename": plan.segment_pattern,
                },
                plan.playlist,
            )
        )
        per_stream[f"maxrate:v:{i}"] = plan.rung.maxrate
        per_stream[f"bufsize:v:{i}"] = plan.rung.bufsize
        per_stream[f"threads:v:{i}"] = encoder_threads

    ladder = ffmpeg.output(
        *scaled,
        audio,
        "|".join(slaves),
        format="tee",
        vcodec="libx264",
        preset=preset,
        crf=crf,
        pix_fmt="yuv420p",
        g=gop,
        keyint_min=gop,
        sc_threshold=0,
        force_key_frames=f"expr:gte(t,n_forced*{SEGMENT_SECONDS})",
        acodec="aac",
        audio_bitrate=AUDIO_BITRATE,
        ac=2,
        map_metadata=-1,
        map_chapters=-1,
        **{"profile:v": "high", **per_stream},
    )
    still = ffmpeg.output(poster, POSTER, update=1, **{"frames:v": 1, "q:v": 3})
    argv = ffmpeg.merge_outputs(ladder, still).compile(cmd=ffmpeg_cmd)
    # ffmpeg-python appends global options after the outputs, where ffmpeg warns it may ignore
    # them; they belong in front.
    # The scalers run in ffmpeg's filter graph: slice threads keep them off the critical path.
    globals_ = ["-hide_banner", "-nostdin", "-y", "-loglevel", "error", "-nostats", "-progress", "pipe:1",
                "-filter_complex_threads", str(os.cpu_count() or 1)]  # fmt: skip
    return [argv[0], *globals_, *argv[1:]]


# --------------------------------------------------------------------------------------------
# Run


@dataclasses.dataclass(frozen=True)
class RenditionOutput:
    """A produced rendition: the MP4 and HLS variant of one rung (paths are absolute)."""

    label: int
    width: int
    height: int
    path_mp4: Path
    playlist: Path
    bitrate: int
    bandwidth: int
    average_bandwidth: int
    codecs: str
    segments: tuple[Path, ...] = ()

    @property
    def name(self) -> str:
        return f"{self.label}p"

    @property
    def role(self) -> str:
        """The MediaAsset role of the MP4 (``mp4_360`` …)."""
        return f"mp4_{self.label}"


@dataclasses.dataclass(frozen=True)
class TranscodeResult:
    """Everything one transcode produced under ``out_dir``."""

    out_dir: Path
    renditions: list[RenditionOutput]
    hls_master: Path
    poster: Path
    poster_size: tuple[int, int]
    probe: ProbeResult
    command: list[str] = dataclasses.field(repr=False)
    elapsed: float = 0.0

    def files(self) -> Iterator[tuple[str, Path, str]]:
        """Every produced file as (path relative to out_dir, absolute path, content type).

        Upload them under one prefix keeping the relative paths: the playlists refer to each
        other and to their segments relatively.
        """
        paths = [self.poster, self.hls_master]
        for rendition in self.renditions:
            paths += [rendition.path_mp4, rendition.playlist, *rendition.segments]
        for path in paths:
            relative = path.relative_to(self.out_dir).as_posix()
            yield relative, path, CONTENT_TYPES.get(path.suffix, "application/octet-stream")


def _pdeathsig() -> None:  # pragma: no cover - runs in the child between fork and exec
    PR_SET_PDEATHSIG = 1
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def _remove_outputs(out_dir: Path, renditions: list[RenditionPlan]) -> None:
    for plan in renditions:
        (out_dir / plan.mp4).unlink(missing_ok=True)
    (out_dir / POSTER).unlink(missing_ok=True)
    shutil.rmtree(out_dir / "hls", ignore_errors=True)


def transcode(
    source_path: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    *,
    max_height: int = 1080,
    on_progress: Callable[[float], None] | None = None,
    timeout: float | None = None,
    preset: str = DEFAULT_PRESET,
    crf: int = DEFAULT_CRF,
    probe_result: ProbeResult | None = None,
    ffmpeg_cmd: str = FFMPEG,
) -> TranscodeResult:
    """Write the ladder, HLS master and poster for ``source_path`` into ``out_dir``.

    Runs exactly one ffmpeg process (the argv of :func:`build_command`). ``on_progress`` is
    called with a fraction 0..1 that never goes down and ends at 1.0. ``timeout`` seconds after
    the start ffmpeg is killed and :class:`TranscodeTimeout` raised. On any failure the outputs
    written so far are removed; ``out_dir`` itself belongs to the caller.
    """
    source = probe_result or probe(source_path)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    plans = plan_renditions(source, max_height=max_height)
    argv = build_command(source_path, source, plans, preset=preset, crf=crf, ffmpeg_cmd=ffmpeg_cmd)
    _remove_outputs(out, plans)  # a retry in the same folder must not inherit stale segments
    for plan in plans:
        (out / plan.playlist).parent.mkdir(parents=True, exist_ok=True)

    log.info("transcoding %s -> %s: %s", source_path, out, ", ".join(p.name for p in plans))
    started = time.monotonic()
    try:
        _run_ffmpeg(argv, out, source.duration, on_progress, timeout)
        result = _collect(out, plans, source, argv)
    except BaseException:
        # BaseException: a KeyboardInterrupt or a job-timeout exception must not leave
        # half-written renditions behind either; the exception goes on unchanged.
        _remove_outputs(out, plans)
        raise
    if on_progress:
        _report(on_progress, 1.0)
    elapsed = time.monotonic() - started
    log.info(
        "transcoded %s in %.1fs (%.1fx realtime)",
        source_path,
        elapsed,
        source.duration / elapsed if elapsed else 0.0,
    )
    return dataclasses.replace(result, elapsed=elapsed)


def _report(on_progress: Callable[[float], None], fraction: float) -> None:
    try:
        on_progress(fraction)
    except Exception:
        # Progress is cosmetic (a Redis hiccup, say); losing one update beats losing the encode.
        log.warning("progress callback failed", exc_info=True)


def _run_ffmpeg(
    argv: list[str],
    cwd: Path,
    duration: float,
    on_progress: Callable[[float], None] | None,
    timeout: float | None,
) -> None:
    log.debug("ffmpeg argv: %s", argv)
    proc = subprocess.Popen(
        argv,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        preexec_fn=_pdeathsig if sys.platform.startswith("linux") else None,
    )
    stderr_tail: collections.deque[str] = collections.deque(maxlen=40)

    def drain_stderr() -> None:
        assert proc.stderr is not None
        for raw in proc.stderr:
            stderr_tail.append(raw.decode("utf-8", "replace").rstrip())

    reader = threading.Thread(target=drain_stderr, name="ffmpeg-stderr", daemon=True)
    reader.start()
    timed_out = threading.Event()

    def kill_on_timeout() -> None:
        timed_out.set()
        proc.kill()

    timer = threading.Timer(timeout, kill_on_timeout) if timeout else None
    if timer:
        timer.daemon = True
        timer.start()
    best = 0.0
    try:
        assert proc.stdout is not None
        for raw in proc.stdout:
            key, _, value = raw.decode("ascii", "replace").strip().partition("=")
            if key != "out_time_us" or not on_progress or not value.lstrip("-").isdigit():
                continue
            fraction = min(int(value) / 1e6 / duration, 0.999) if duration > 0 else 0.0
            # Throttled to whole percents: the callback usually writes to Redis.
            if fraction >= best + 0.01:
                best = fraction
                _report(on_progress, round(fraction, 3))
        returncode = proc.wait()
    finally:
        if timer:
            timer.cancel()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        reader.join(timeout=5)
        for pipe in (proc.stdout, proc.stderr):
            if pipe:
                pipe.close()
    if timed_out.is_set():
        raise TranscodeTimeout(
            "timeout", "视频处理超时，请尝试上传更短或分辨率更低的视频。", f"killed after {timeout}s"
        )
    if returncode != 0:
        detail = "\n".join(stderr_tail) or f"ffmpeg exited with {returncode}"
        log.error("ffmpeg failed (%s): %s", returncode, detail)
        raise TranscodeError("ffmpeg_failed", "视频转码失败，请稍后重试或更换文件。", detail)


def _avc_codecs(mp4: Path) -> str:
    """``avc1.PPCCLL`` from the first avcC box: profile, constraint flags and level as written."""
    with mp4.open("rb") as fh:
        while header := fh.read(8):
            if len(header) < 8:
                break
            size = int.from_bytes(header[:4], "big")
            kind = header[4:8]
            if size == 1:
                size = int.from_bytes(fh.read(8), "big") - 8
            body_size = size - 8
            if kind == b"moov":
                moov = fh.read(body_size)
                at = moov.find(b"avcC")
                if at >= 0:
                    return "avc1." + moov[at + 5 : at + 8].hex()
                break
            fh.seek(body_size, os.SEEK_CUR)
    raise TranscodeError("ffmpeg_failed", "视频转码失败，请稍后重试或更换文件。", f"no avcC in {mp4}")


def _segments(playlist: Path) -> list[tuple[float, Path]]:
    segments = []
    duration = None
    for line in playlist.read_text().splitlines():
        if line.startswith("#EXTINF:"):
            duration = float(line[len("#EXTINF:") :].split(",")[0])
        elif line and not line.startswith("#") and duration is not None:
            segments.append((duration, playlist.parent / line))
            duration = None
    return segments


def _bandwidths(segments: list[tuple[float, Path]]) -> tuple[int, int]:
    """(peak, average) bits per second over the segments, as HLS defines BANDWIDTH."""
    sizes = [(seconds, path.stat().st_size) for seconds, path in segments]
    total_seconds = sum(s for s, _ in sizes)
    average = sum(b for _, b in sizes) * 8 / total_seconds if total_seconds else 0
    # A sliver of a last segment holding one keyframe would report an absurd peak.
    full = [(s, b) for s, b in sizes if s >= SEGMENT_SECONDS / 2] or sizes
    peak = max((b * 8 / s for s, b in full if s > 0), default=average)
    return int(math.ceil(peak)), int(math.ceil(average))


def _raise_if_disk_full(out: Path) -> None:
    """ENOSPC (transient: the job is retried once space is freed) when ``out``'s disk is full."""
    free = shutil.disk_usage(out).free
    if free < DISK_FULL_BYTES:
        raise OSError(errno.ENOSPC, f"no space left for the renditions ({free} bytes free)", str(out))


def _collect(out: Path, plans: list[RenditionPlan], source: ProbeResult, argv: list[str]) -> TranscodeResult:
    outputs = []
    expected = source.duration
    for plan in plans:
        mp4, playlist = out / plan.mp4, out / plan.playlist
        if not mp4.is_file() or not playlist.is_file() or mp4.stat().st_size == 0:
            raise TranscodeError(
                "ffmpeg_failed", "视频转码失败，请稍后重试或更换文件。", f"{plan.name} missing"
            )
        segments = _segments(playlist)
        produced = sum(seconds for seconds, _ in segments)
        if produced < expected - max(2.0, 0.1 * expected):
            _raise_if_disk_full(out)
            # The decoder ran out of data: the index promised more than the file holds.
            raise InvalidMedia(
                "truncated",
                "视频文件不完整（可能上传中断或文件已损坏），请重新上传完整的文件。",
                f"{produced:.2f}s of {expected:.2f}s encoded",
            )
        peak, average = _bandwidths(segments)
        outputs.append(
            RenditionOutput(
                label=plan.rung.label,
                width=plan.width,
                height=plan.height,
                path_mp4=mp4,
                playlist=playlist,
                bitrate=int(mp4.stat().st_size * 8 / max(produced, 0.001)),
                bandwidth=peak,
                average_bandwidth=average,
                codecs=f"{_avc_codecs(mp4)},{AUDIO_CODECS}",
                segments=tuple(path for _, path in segments),
            )
        )
    poster = out / POSTER
    if not poster.is_file() or poster.stat().st_size == 0:
        raise TranscodeError("ffmpeg_failed", "视频转码失败，请稍后重试或更换文件。", "no poster")
    master = out / MASTER_PLAYLIST
    master.write_text(master_playlist(outputs, output_frame_rate(source), base=master.parent))
    top = plans[-1]
    return TranscodeResult(
        out_dir=out,
        renditions=outputs,
        hls_master=master,
        poster=poster,
        poster_size=(top.width, top.height),
        probe=source,
        command=argv,
    )


def master_playlist(renditions: list[RenditionOutput], fps: Fraction, *, base: Path) -> str:
    """The HLS master playlist text for ``renditions``, variant URIs relative to ``base``."""
    lines = ["#EXTM3U", "#EXT-X-VERSION:3", "#EXT-X-INDEPENDENT-SEGMENTS"]
    for rendition in renditions:
        lines.append(
            f"#EXT-X-STREAM-INF:BANDWIDTH={rendition.bandwidth},"
            f"AVERAGE-BANDWIDTH={rendition.average_bandwidth},"
            f"RESOLUTION={rendition.width}x{rendition.height},"
            f'CODECS="{rendition.codecs}",FRAME-RATE={float(fps):.3f}'
        )
        lines.append(rendition.playlist.relative_to(base).as_posix())
    return "\n".join(lines) + "\n"
