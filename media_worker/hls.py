"""Read back the HLS variants the encode wrote and write the master playlist from them.

Its own module because the master playlist must say what was actually produced, not what was
asked for: after the one ffmpeg pass (``media_worker.transcode``) this reads every variant's
segment list, measures peak and average segment bitrates and reads the avc1 profile/level back
from the MP4's ``avcC`` box, so BANDWIDTH and CODECS are true rather than guessed. A variant that
came out much shorter than the source is a truncated upload (or a full disk), caught here.

HLS segments are MPEG-TS rather than fMP4: every HLS client plays TS, and hls.js handles both.
Layout under the output folder: ``hls/master.m3u8``, ``hls/360p/index.m3u8`` + ``seg_00000.ts``…;
playlists refer to each other relatively, so the tree is uploaded under one prefix as it is.
"""

from __future__ import annotations

import dataclasses
import errno
import math
import os
import shutil
from collections.abc import Iterable
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING

from media_worker.errors import InvalidMedia, TranscodeError

if TYPE_CHECKING:
    from media_worker.ladder import RenditionPlan

SEGMENT_SECONDS = 2
AUDIO_CODECS = "mp4a.40.2"  # AAC-LC, what ffmpeg's native aac encoder writes
MASTER_PLAYLIST = "hls/master.m3u8"
# Less free space than this where the outputs go, after a run that came out short, is a full
# disk rather than a short source: ffmpeg does not always fail when a write fails (the HLS muxer
# carries on without its segments and exits 0).
DISK_FULL_BYTES = 1024 * 1024


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


def collect_variants(out: Path, plans: list[RenditionPlan], expected: float) -> list[RenditionOutput]:
    """The variant of every planned rung as written under ``out``, measured from its segments.

    ``expected`` is the source's duration: much less encoded than that is a truncated upload.
    """
    outputs = []
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
    return outputs


def write_master(out: Path, renditions: Iterable[RenditionOutput], fps: Fraction) -> Path:
    """Write ``hls/master.m3u8`` under ``out`` for ``renditions``; return its path."""
    master = out / MASTER_PLAYLIST
    master.write_text(master_playlist(list(renditions), fps, base=master.parent))
    return master


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
