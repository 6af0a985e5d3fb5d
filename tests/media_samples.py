"""Test videos made on the spot with ffmpeg's lavfi sources, so no binary fixtures live in git.

Each generator writes one file and returns its path; :class:`SampleFactory` caches them for a
pytest session so several tests share one clip. Sources are encoded with ``-preset ultrafast``:
the clips exist to be decoded, not to look good.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

FFMPEG = "ffmpeg"


def _run(args: list[str]) -> None:
    subprocess.run(
        [FFMPEG, "-hide_banner", "-nostdin", "-loglevel", "error", "-y", *args],
        check=True,
        stdin=subprocess.DEVNULL,
        timeout=120,
    )


def make_clip(
    path: Path,
    *,
    width: int,
    height: int,
    seconds: float = 2.0,
    fps: int = 25,
    audio: bool = True,
    extra_output: list[str] | None = None,
) -> Path:
    """An H.264 (+ AAC sine) MP4 of ``testsrc2`` at the given size, rate and length."""
    odd = width % 2 or height % 2
    # lavfi sources round their size down to even; an odd size has to come from a scale.
    size = f"{width + width % 2}x{height + height % 2}"
    args = ["-f", "lavfi", "-i", f"testsrc2=s={size}:r={fps}:d={seconds}"]
    if audio:
        args += ["-f", "lavfi", "-i", f"sine=f=440:sample_rate=44100:d={seconds}"]
    if odd:
        # 4:2:0 cannot hold an odd width or height; 4:4:4 can, and editors do write those.
        args += ["-vf", f"scale={width}:{height},setsar=1", "-pix_fmt", "yuv444p"]
    else:
        args += ["-pix_fmt", "yuv420p"]
    args += ["-c:v", "libx264", "-preset", "ultrafast"]
    if audio:
        args += ["-c:a", "aac", "-b:a", "64k", "-shortest"]
    args += [*(extra_output or []), str(path)]
    _run(args)
    return path


def make_vfr_clip(path: Path, *, width: int = 320, height: int = 240, seconds: float = 3.0) -> Path:
    """A variable-frame-rate clip: thirds at 30, 12 and 24 fps, with timestamps kept as they are.

    Made in MKV, where each frame keeps its own timestamp, the way phone recordings drift.
    """
    third = seconds / 3
    rates = (30, 12, 24)
    inputs: list[str] = []
    for fps in rates:
        inputs += ["-f", "lavfi", "-i", f"testsrc2=s={width}x{height}:r={fps}:d={third}"]
    concat = "".join(f"[{i}:v]" for i in range(len(rates))) + f"concat=n={len(rates)}:v=1:a=0[v]"
    _run(
        [
            *inputs,
            "-f", "lavfi", "-i", f"sine=f=330:d={seconds}",
            "-filter_complex", concat,
            "-map", "[v]", "-map", f"{len(rates)}:a",
            "-fps_mode", "vfr",
            "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", "-b:a", "64k",
            str(path),
        ]
    )  # fmt: skip
    return path


def make_audio_only(path: Path, seconds: float = 2.0) -> Path:
    """An M4A with AAC audio and no picture."""
    _run(["-f", "lavfi", "-i", f"sine=f=440:d={seconds}", "-c:a", "aac", "-b:a", "64k", str(path)])
    return path


def make_truncated(source: Path, path: Path) -> Path:
    """The first half of ``source`` (a faststart MP4 keeps its index, so it still probes)."""
    data = source.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


class SampleFactory:
    """Makes each named sample once per session in ``folder``."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._made: dict[str, Path] = {}

    def get(self, name: str, make: Callable[[Path], Path], suffix: str = ".mp4") -> Path:
        """The sample called ``name``, made by ``make(path)`` on first use."""
        if name not in self._made:
            self._made[name] = make(self.folder / f"{name}{suffix}")
        return self._made[name]

    # The clips the transcode tests use; sizes are the point of each one.
    def landscape_1080(self) -> Path:
        return self.get("landscape_1080", lambda p: make_clip(p, width=1920, height=1080, seconds=2))

    def portrait_silent(self) -> Path:
        return self.get(
            "portrait_silent", lambda p: make_clip(p, width=720, height=1280, seconds=2, audio=False)
        )

    def sd_853x480(self) -> Path:
        return self.get("sd_853x480", lambda p: make_clip(p, width=853, height=480, seconds=2))

    def one_second(self) -> Path:
        return self.get("one_second", lambda p: make_clip(p, width=320, height=240, seconds=1))

    def tiny(self) -> Path:
        return self.get("tiny", lambda p: make_clip(p, width=320, height=180, seconds=2))

    def vfr(self) -> Path:
        return self.get("vfr", make_vfr_clip, suffix=".mkv")

    def audio_only(self) -> Path:
        return self.get("audio_only", make_audio_only, suffix=".m4a")

    def truncated(self) -> Path:
        def make(path: Path) -> Path:
            whole = make_clip(
                self.folder / "whole.mp4",
                width=320,
                height=240,
                seconds=3,
                extra_output=["-movflags", "+faststart"],
            )
            return make_truncated(whole, path)

        return self.get("truncated", make)

    def truncated_index_last(self) -> Path:
        def make(path: Path) -> Path:
            return make_truncated(self.tiny(), path)

        return self.get("truncated_index_last", make)

    def text_as_mp4(self) -> Path:
        def make(path: Path) -> Path:
            path.write_text("这不是视频。This is not a video.\n" * 50, encoding="utf-8")
            return path

        return self.get("text_as_mp4", make)

    def empty(self) -> Path:
        def make(path: Path) -> Path:
            path.write_bytes(b"")
            return path

        return self.get("empty", make)

    def rotated(self) -> Path:
        """640x360 coded with a 90° display matrix: shown as 360x640 portrait."""

        def make(path: Path) -> Path:
            plain = make_clip(self.folder / "unrotated.mp4", width=640, height=360, seconds=1)
            # The rotate tag only becomes a display matrix on a stream copy.
            _run(["-i", str(plain), "-c", "copy", "-metadata:s:v:0", "rotate=90", str(path)])
            return path

        return self.get("rotated", make)

    def hdr_hlg(self) -> Path:
        """10-bit BT.2020 HLG, the way recent iPhones record by default."""

        def make(path: Path) -> Path:
            _run(
                ["-f", "lavfi", "-i", "testsrc2=s=480x270:r=25:d=1", "-pix_fmt", "yuv420p10le",
                 "-c:v", "libx264", "-preset", "ultrafast", "-color_primaries", "bt2020",
                 "-color_trc", "arib-std-b67", "-colorspace", "bt2020nc", str(path)]
            )  # fmt: skip
            return path

        return self.get("hdr_hlg", make)
