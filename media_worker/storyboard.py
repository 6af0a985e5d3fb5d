"""Seek previews: the plan of the storyboard sprite and the WebVTT index that points into it.

The sprite itself is one more branch of the one ffmpeg pass (``media_worker.transcode``: the
shared, already decoded and scaled stream through ``fps=1/N``, ``scale`` and ``tile``), so a
storyboard never costs a second decode. This module is the arithmetic around it: how often a
thumbnail is taken, how large, how the grid is laid out, and the index a player reads
(``storyboard.vtt``: one cue per thumbnail, ``storyboard.jpg#xywh=x,y,w,h``, the cues covering
the whole duration without gaps).

- At most :data:`MAX_THUMBNAILS` thumbnails, at least one a second: a 20-minute film gets one
  every 12 s (PeerTube's storyboards make the same trade: one small sprite, loaded once).
- :data:`THUMB_LONG_SIDE` px on the long side, orientation kept, sizes even.
- At most :data:`COLUMNS` per row, so the sprite stays far below the JPEG size limits.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

from app.media.caption_format import vtt_timestamp
from media_worker.ladder import RenditionPlan

MAX_THUMBNAILS = 100
THUMB_LONG_SIDE = 160
COLUMNS = 10
SPRITE = "storyboard.jpg"
INDEX = "storyboard.vtt"


@dataclasses.dataclass(frozen=True)
class StoryboardPlan:
    interval: int  # seconds between thumbnails
    count: int
    columns: int
    rows: int
    width: int  # of one thumbnail
    height: int
    duration: float

    @property
    def tile(self) -> str:
        return f"{self.columns}x{self.rows}"


def _even(value: float) -> int:
    return max(2, int(round(value / 2)) * 2)


def plan_storyboard(duration: float, top: RenditionPlan) -> StoryboardPlan:
    """The storyboard of a source lasting ``duration`` s whose top rung is ``top``."""
    interval = max(1, math.ceil(duration / MAX_THUMBNAILS))
    count = max(1, math.ceil(duration / interval))
    long_side = max(top.width, top.height)
    scale = THUMB_LONG_SIDE / long_side
    width, height = _even(top.width * scale), _even(top.height * scale)
    columns = min(COLUMNS, count)
    return StoryboardPlan(
        interval=interval,
        count=count,
        columns=columns,
        rows=math.ceil(count / columns),
        width=width,
        height=height,
        duration=duration,
    )


def index_text(plan: StoryboardPlan, sprite: str = SPRITE) -> str:
    """The WebVTT index: thumbnail i covers [i × interval, (i + 1) × interval), the last one up
    to the end, so every instant of the video has exactly one thumbnail."""
    lines = ["WEBVTT", ""]
    for i in range(plan.count):
        start = i * plan.interval
        end = plan.duration if i == plan.count - 1 else min((i + 1) * plan.interval, plan.duration)
        x, y = (i % plan.columns) * plan.width, (i // plan.columns) * plan.height
        tile = f"{sprite}#xywh={x},{y},{plan.width},{plan.height}"
        lines += [f"{vtt_timestamp(start)} --> {vtt_timestamp(end)}", tile, ""]
    return "\n".join(lines)


def write_index(out: Path, plan: StoryboardPlan) -> Path:
    path = out / INDEX
    path.write_text(index_text(plan), encoding="utf-8")
    return path
