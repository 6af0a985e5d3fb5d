"""Validate an uploaded video with ffprobe before any CPU is spent on encoding it.

Pure: a path and limits in, a :class:`ProbeResult` out, or :class:`InvalidMedia` saying why the
upload is unusable. Its own module because it is the gate in front of the encode: it asks ffprobe
three cheap questions - can the container be read at all, does the first video packet decode, and
can the last seconds be read (a half-uploaded MP4 whose index sits at the front looks perfect until
the data runs out) - and every answer is a stable ``code`` for the program and a ``message_zh`` for
the uploader. The ladder (``media_worker.ladder``) is planned from what it reports.

Only real containers are opened (:data:`SOURCE_FORMATS`, ``file:`` protocol only), here and in
the encode: an "MP4" that is really an HLS or concat playlist could otherwise make ffmpeg read
server files.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import subprocess
from fractions import Fraction
from pathlib import Path

from media_worker.errors import InvalidMedia

FFPROBE = os.environ.get("FFPROBE_BINARY", "ffprobe")
DEFAULT_MAX_SIDE = 4096
PROBE_TIMEOUT = 60.0
# Demuxers a source may be read with: the containers cameras, phones and editors write. Anything
# else is refused before it is parsed; above all playlists (HLS, concat), whose entries make
# ffmpeg open other files or URLs - the known way to smuggle a server's files into a video.
SOURCE_FORMATS = "mov,matroska,avi,mpegts,flv,asf,mpeg"
SOURCE_INPUT_OPTIONS = {"format_whitelist": SOURCE_FORMATS, "protocol_whitelist": "file"}
HDR_TRANSFERS = frozenset({"smpte2084", "arib-std-b67"})
# Seconds read at the end of a file to prove its last part is really there.
TAIL_SECONDS = 3.0


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
