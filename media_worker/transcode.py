"""Build a probed source's whole rendition ladder in ONE ffmpeg run: the filter graph and the command.

Pure: paths and options in, files and a :class:`TranscodeResult` out. No Flask, no database, no
Redis; the job module (``media_worker.jobs``) moves files to storage and updates rows. The source
is validated first (``media_worker.probe``), the rungs come from ``media_worker.ladder``, and what
the run wrote is read back and the master playlist written by ``media_worker.hls``.

One module because it is one thing: the argv of :func:`build_command` is exactly what
:func:`transcode` runs. The source is decoded once and normalised once (constant frame rate, the
top rung's size, SDR, 8-bit 4:2:0), then ``split`` feeds one libx264 encoder per rung (the smaller
rungs each through their own scaler), a poster branch and a storyboard branch (the seek previews'
sprite, ``media_worker.storyboard``). Each encoded stream goes through the
``tee`` muxer into two containers at once, a faststart MP4 and an HLS variant (MPEG-TS segments),
so nothing is encoded twice and nothing is remuxed afterwards. Splitting the graph from the
process that runs it would only put the two halves of one contract in two files.

Decisions:

- Sources without audio get a silent AAC track (``anullsrc``) so every rendition has the same
  stream layout: hls.js and Safari switch variants more reliably, and the MP4 fallback behaves the
  same whatever was uploaded. It costs a few kB per minute. Audio is encoded ONCE and shared by all
  rungs through the tee muxer's ``select``.
- Keyframes every :data:`~media_worker.hls.SEGMENT_SECONDS` (``-g``/``-keyint_min``,
  ``-sc_threshold 0`` and ``-force_key_frames`` on the same grid) so every HLS segment starts with
  one and all variants switch at the same instants.
- HDR sources (PQ or HLG, as iPhones record by default) are tone-mapped to SDR BT.709 8-bit
  (zscale + tonemap=hable): H.264 High 8-bit plays everywhere, and untreated HDR looks washed out.
- Layout under ``out_dir``: ``360p.mp4``…, ``hls/…`` (see ``media_worker.hls``), ``poster.jpg``,
  ``storyboard.jpg`` + ``storyboard.vtt``;
  upload the tree under one prefix as it is (:meth:`TranscodeResult.files`).
- Metadata and chapters are dropped (``-map_metadata -1``): phone videos carry GPS positions.
- The ffmpeg child gets ``PR_SET_PDEATHSIG``: if the worker dies (SIGKILL, OOM) ffmpeg dies with
  it instead of burning CPU for a job that will be run again.
"""

from __future__ import annotations

import collections
import ctypes
import dataclasses
import logging
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import ffmpeg

from media_worker.errors import TranscodeError, TranscodeTimeout
from media_worker.hls import SEGMENT_SECONDS, RenditionOutput, collect_variants, write_master
from media_worker.ladder import RenditionPlan, output_frame_rate, plan_renditions, poster_time
from media_worker.probe import SOURCE_INPUT_OPTIONS, ProbeResult, probe
from media_worker.storyboard import SPRITE, StoryboardPlan, plan_storyboard, write_index

log = logging.getLogger(__name__)

FFMPEG = os.environ.get("FFMPEG_BINARY", "ffmpeg")

AUDIO_BITRATE = 128_000
AUDIO_SAMPLE_RATE = 48_000
DEFAULT_PRESET = "veryfast"
DEFAULT_CRF = 23
POSTER = "poster.jpg"

CONTENT_TYPES = {
    ".mp4": "video/mp4",
    ".m3u8": "application/vnd.apple.mpegurl",
    ".ts": "video/mp2t",
    ".jpg": "image/jpeg",
    ".vtt": "text/vtt",
}


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
    storyboard: StoryboardPlan | None = None,
) -> list[str]:
    """The one ffmpeg argv that writes every output; run it with ``cwd`` set to the out dir.

    With ``storyboard``, the sprite of seek previews is one more output of the same pass.

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
    if storyboard is not None:
        # From the shared stream, already decoded and scaled once: a few frames a minute more
        # through a small scaler and the tile filter, never a second decode of the source.
        board = (
            branches[len(renditions) + 1]
            # eof_action=pass: the last, partial interval gets its thumbnail too, so there are
            # always plan.count of them. The default (round) dropped it when the clip ended less
            # than half an interval past it: a blank last cell, and no sprite at all (a failed
            # transcode, retried in vain) for a clip under half a second.
            .filter("fps", fps=f"1/{storyboard.interval}", eof_action="pass")
            .filter("scale", storyboard.width, storyboard.height)
            .filter("tile", storyboard.tile)
        )
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
    outputs = [ladder, ffmpeg.output(poster, POSTER, update=1, **{"frames:v": 1, "q:v": 3})]
    if storyboard is not None:
        outputs.append(ffmpeg.output(board, SPRITE, update=1, **{"frames:v": 1, "q:v": 5}))
    argv = ffmpeg.merge_outputs(*outputs).compile(cmd=ffmpeg_cmd)
    # ffmpeg-python appends global options after the outputs, where ffmpeg warns it may ignore
    # them; they belong in front.
    # The scalers run in ffmpeg's filter graph: slice threads keep them off the critical path.
    globals_ = ["-hide_banner", "-nostdin", "-y", "-loglevel", "error", "-nostats", "-progress", "pipe:1",
                "-filter_complex_threads", str(os.cpu_count() or 1)]  # fmt: skip
    return [argv[0], *globals_, *argv[1:]]


# --------------------------------------------------------------------------------------------
# Run


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
    # The seek previews: the WebVTT index and the sprite it points into (None: not asked for).
    storyboard: Path | None = None
    storyboard_sprite: Path | None = None

    def files(self) -> Iterator[tuple[str, Path, str]]:
        """Every produced file as (path relative to out_dir, absolute path, content type).

        Upload them under one prefix keeping the relative paths: the playlists refer to each
        other and to their segments relatively.
        """
        paths = [self.poster, self.hls_master]
        if self.storyboard and self.storyboard_sprite:
            paths += [self.storyboard, self.storyboard_sprite]
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
    for name in (SPRITE, "storyboard.vtt"):
        (out_dir / name).unlink(missing_ok=True)
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
    storyboard: bool = True,
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
    board = plan_storyboard(source.duration, plans[-1]) if storyboard else None
    argv = build_command(
        source_path, source, plans, preset=preset, crf=crf, ffmpeg_cmd=ffmpeg_cmd, storyboard=board
    )
    _remove_outputs(out, plans)  # a retry in the same folder must not inherit stale segments
    for plan in plans:
        (out / plan.playlist).parent.mkdir(parents=True, exist_ok=True)

    log.info("transcoding %s -> %s: %s", source_path, out, ", ".join(p.name for p in plans))
    started = time.monotonic()
    try:
        _run_ffmpeg(argv, out, source.duration, on_progress, timeout)
        result = _collect(out, plans, source, argv, board)
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


def _collect(
    out: Path,
    plans: list[RenditionPlan],
    source: ProbeResult,
    argv: list[str],
    board: StoryboardPlan | None = None,
) -> TranscodeResult:
    outputs = collect_variants(out, plans, source.duration)
    poster = out / POSTER
    if not poster.is_file() or poster.stat().st_size == 0:
        raise TranscodeError("ffmpeg_failed", "视频转码失败，请稍后重试或更换文件。", "no poster")
    master = write_master(out, outputs, output_frame_rate(source))
    index = sprite = None
    if board is not None:
        sprite = out / SPRITE
        if not sprite.is_file() or sprite.stat().st_size == 0:
            raise TranscodeError("ffmpeg_failed", "视频转码失败，请稍后重试或更换文件。", "no storyboard")
        index = write_index(out, board)
    top = plans[-1]
    return TranscodeResult(
        out_dir=out,
        renditions=outputs,
        hls_master=master,
        poster=poster,
        poster_size=(top.width, top.height),
        probe=source,
        command=argv,
        storyboard=index,
        storyboard_sprite=sprite,
    )
