"""Plan the rendition ladder for a probed source: which rungs, at which sizes and frame rate.

Pure arithmetic on a :class:`~media_worker.probe.ProbeResult`; its own module because these are
product decisions (what viewers get) rather than ffmpeg mechanics, and the encode
(``media_worker.transcode``) and its tests both read them.

- Ladder: 360p, 720p, 1080p applied to the SHORT side, so portrait stays portrait (720x1280 gives
  360x640 and 720x1280). Never upscaled; a source smaller than 360 on its short side gets a single
  rendition at its own size. A source between rungs (853x480) gets only the rungs below it
  (640x360): the data model has one role per rung (``mp4_360``/``mp4_720``/``mp4_1080``), and a
  "720p" label on a 480-line picture would mislead viewers and the bitrate ladder alike. Sizes are
  made even (H.264 4:2:0 needs it).
- Frame rate: the source's average rate, snapped to the nearest common rate within 2 % (phones
  record "29.6 fps" variable rate), capped at 60; the encode's ``fps`` filter makes it constant,
  which the HLS segmenter and every player want.
"""

from __future__ import annotations

import dataclasses
from fractions import Fraction

from media_worker.probe import ProbeResult

MAX_OUTPUT_FPS = 60
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
