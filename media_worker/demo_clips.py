"""Source clips for the demo (`flask demo load`): moving pictures with a Chinese title and a tune.

Pure, like ``transcode.py``: a :class:`ClipSpec` and a path in, an MP4 out; no Flask, no database.
Everything is drawn by ffmpeg's own sources (lavfi), so no video lives in git and nothing is
fetched: a slowly turning colour gradient, a glowing "sun" drifting across, the title fading in
with the collective's name under it, a bar that fills as the clip plays and a running clock (so a
seek is easy to see), over a little arpeggio in a major key.

The title is drawn with a Chinese font when fontconfig knows one (Debian's fonts-wqy-microhei,
which ``scripts/bootstrap.sh`` installs); without one the clip still gets made, with only the
clock and the bar, since Chinese glyphs would come out as empty boxes.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import shutil
import subprocess
import tempfile
from pathlib import Path

import ffmpeg

from media_worker.transcode import FFMPEG

log = logging.getLogger(__name__)

FPS = 25
# The clips are sources for the real transcode, made while a newcomer waits: the fastest x264
# preset (a few MB for a quarter of a minute, uploaded locally) at a quality the ladder keeps.
SOURCE_CRF = 20
SOURCE_PRESET = "ultrafast"
GENERATE_TIMEOUT = 300.0
FONT_QUERY = ":lang=zh"
FONT_FALLBACKS = ("truetype/wqy/wqy-*.tt[cf]", "opentype/noto/NotoSansCJK-*.tt[cf]")


@dataclasses.dataclass(frozen=True)
class ClipSpec:
    """What one demo clip shows. ``colors`` are three ffmpeg colours for the gradient; ``key``
    moves the tune up by that many semitones, so the clips do not all sound the same."""

    title: str
    subtitle: str
    width: int = 1280
    height: int = 720
    seconds: float = 12.0
    colors: tuple[str, str, str] = ("0x1f5fa8", "0x3aa0a0", "0xf2b134")
    key: int = 0

    @classmethod
    def from_dict(cls, data: dict) -> ClipSpec:
        fields = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in data.items() if k in fields}
        if "colors" in values:
            values["colors"] = tuple(values["colors"])
        return cls(**values)

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


def chinese_font() -> str | None:
    """The file of a font that has Chinese glyphs, or None: what fontconfig lists for Chinese,
    else a WenQuanYi or Noto CJK file where Debian puts them."""
    files: list[str] = []
    if shutil.which("fc-list"):
        try:
            listed = subprocess.run(
                ["fc-list", FONT_QUERY, "file"], capture_output=True, text=True, timeout=10, check=False
            ).stdout
        except (OSError, subprocess.TimeoutExpired):
            listed = ""
        files = [line.split(":", 1)[0].strip() for line in listed.splitlines() if line.strip()]
    if not files:
        files = [str(path) for pattern in FONT_FALLBACKS for path in Path("/usr/share/fonts").glob(pattern)]
    # Prefer WenQuanYi (what bootstrap installs), then whatever else there is, in a stable order.
    files.sort(key=lambda path: ("wqy" not in path.lower(), path))
    return files[0] if files else None


def _tune(seconds: float, key: int) -> str:
    """An aevalsrc expression: a plucked arpeggio over C–Am–F–G (two seconds a chord), with a
    soft bass note under each chord."""
    step = "floor(t*4)"
    chord = "mod(floor(t/2),4)"
    root = f"(if(eq({chord},0),0,if(eq({chord},1),-3,if(eq({chord},2),5,7)))+{int(key)})"
    third = f"if(eq({chord},1),3,4)"
    interval = f"if(eq(mod({step},4),0),0,if(eq(mod({step},4),1),{third},if(eq(mod({step},4),2),7,12)))"
    note = f"261.63*pow(2,({root}+{interval})/12)"
    bass = f"130.81*pow(2,({root}-12)/12)"
    pluck = f"0.22*sin(2*PI*{note}*t)*exp(-9*mod(t,0.25))"
    pad = f"0.10*sin(2*PI*{bass}*t)*(0.6+0.4*exp(-2*mod(t,2)))"
    # A fade in and out, so the clip does not start or end with a click.
    fade = f"min(1,t/0.5)*min(1,({seconds}-t)/0.8)"
    return f"({pluck}+{pad})*{fade}"


def _even(value: float) -> int:
    return max(2, int(value) // 2 * 2)


@functools.cache
def can_draw_text() -> bool:
    """Whether this ffmpeg has drawtext (built with libfreetype, as Debian's is)."""
    try:
        filters = subprocess.run(
            [FFMPEG, "-hide_banner", "-filters"], capture_output=True, text=True, timeout=30, check=False
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return False
    return any(line.split()[1:2] == ["drawtext"] for line in filters.splitlines())


def _text(stream, textfile: Path, fontfile: str | None, *, size: int, x: str, y: str, **options):
    """Text read from a file (no escaping to get wrong), white with a soft outline."""
    if fontfile:
        options["fontfile"] = fontfile
    return stream.drawtext(
        textfile=str(textfile),
        fontsize=size,
        fontcolor=options.pop("fontcolor", "white"),
        borderw=max(2, size // 18),
        bordercolor="black@0.35",
        x=x,
        y=y,
        **options,
    )


def build_command(
    spec: ClipSpec, path: Path, workdir: Path, fontfile: str | None, *, text: bool = True
) -> list[str]:
    """The ffmpeg argv that writes ``spec`` to ``path``; drawtext's text files go in ``workdir``.
    Without ``fontfile`` the title and subtitle are left out; without ``text``, all text."""
    w, h, seconds = spec.width, spec.height, float(spec.seconds)
    short = min(w, h)
    bar_height = max(6, h // 90)
    c0, c1, c2 = spec.colors
    # The gradient is smooth, so it is computed at a quarter of the size (at full size it would
    # be the costliest part of the clip) and scaled up.
    video = ffmpeg.input(
        f"gradients=s={_even(w / 4)}x{_even(h / 4)}:r={FPS}:d={seconds}:n=3:c0={c0}:c1={c1}:c2={c2}"
        f":speed=0.03:seed={spec.key + 7}",
        f="lavfi",
    ).video.filter("scale", w, h, flags="bilinear")
    # A warm "sun" drifting across the upper third: drawn once, as a single frame, which the
    # overlay then keeps showing (its eof_action is to repeat the last frame).
    sun = (
        ffmpeg.input(f"color=c=0xffe08a:s={short // 4}x{short // 4}:r={FPS}:d=0.04", f="lavfi")
        .video.filter("format", "rgba")
        .filter(
            "geq",
            r="r(X,Y)",
            g="g(X,Y)",
            b="b(X,Y)",
            a="if(lte(hypot(X-W/2,Y-H/2),W/2),200*(1-pow(hypot(X-W/2,Y-H/2)/(W/2),3)),0)",
        )
    )
    video = video.overlay(sun, x=f"W*0.62+W*0.25*sin(t/{seconds}*PI)-w/2", y="H*0.22-h/2+H*0.03*sin(t*1.3)")
    # A bar along the bottom that fills as the clip plays: where the player is, at a glance.
    bar = ffmpeg.input(f"color=c=0xffd24a:s={w}x{bar_height}:r={FPS}:d={seconds}", f="lavfi").video
    video = video.overlay(bar, x=f"-W+W*t/{seconds}", y="H-h")
    if text and fontfile:
        title, subtitle = workdir / "title.txt", workdir / "subtitle.txt"
        title.write_text(spec.title, encoding="utf-8")
        subtitle.write_text(spec.subtitle, encoding="utf-8")
        size = int(min(short / (7 if w >= h else 9), w * 0.85 / max(len(spec.title), 1)))
        centre = "(w-text_w)/2"
        # The title fades in and floats a little; the collective's name follows it.
        video = _text(video, title, fontfile, size=size, x=centre, y="h*0.46-text_h/2+h*0.01*sin(t*2)",
                      alpha="min(1,t/1.2)")  # fmt: skip
        video = _text(video, subtitle, fontfile, size=max(16, short // 22), x=centre, y="h*0.46+text_h*2.4",
                      alpha="min(1,max(0,t-0.8)/1.2)")  # fmt: skip
    if text:
        # A running clock, bottom right: after a seek, the picture says where it landed.
        clock = workdir / "clock.txt"
        clock.write_text("%{pts:hms}", encoding="utf-8")
        video = _text(video, clock, fontfile, size=max(14, short // 26), fontcolor="white@0.85",
                      x="w-text_w-w*0.03", y=f"h-text_h-h*0.03-{bar_height}")  # fmt: skip
    # Quoted: a lavfi input is itself a filtergraph, where a bare comma would end the filter.
    audio = ffmpeg.input(f"aevalsrc='{_tune(seconds, spec.key)}':s=48000:d={seconds}", f="lavfi").audio
    out = ffmpeg.output(
        video,
        audio,
        str(path),
        vcodec="libx264",
        preset=SOURCE_PRESET,
        crf=SOURCE_CRF,
        pix_fmt="yuv420p",
        acodec="aac",
        audio_bitrate="128k",
        movflags="+faststart",
        t=seconds,
    )
    out = out.global_args("-hide_banner", "-nostdin", "-loglevel", "error")
    return ffmpeg.compile(out, cmd=FFMPEG, overwrite_output=True)


def make_clip(spec: ClipSpec, path: Path, *, timeout: float = GENERATE_TIMEOUT) -> Path:
    """Write the clip of ``spec`` to ``path`` (an MP4). Raises ``subprocess.CalledProcessError``
    (with ffmpeg's message in ``stderr``) or ``subprocess.TimeoutExpired``."""
    text = can_draw_text()
    fontfile = chinese_font() if text else None
    if fontfile is None:
        log.warning(
            "demo clips are made without their titles: %s",
            "no Chinese font (install fonts-wqy-microhei)" if text else "this ffmpeg has no drawtext filter",
        )
    # drawtext reads its texts from files, put next to the clip (in the caller's folder).
    with tempfile.TemporaryDirectory(prefix="text-", dir=path.parent) as workdir:
        argv = build_command(spec, path, Path(workdir), fontfile, text=text)
        subprocess.run(
            argv, check=True, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout
        )
    return path
