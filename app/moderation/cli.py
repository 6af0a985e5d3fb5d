"""`flask moderation detect`: run every pass of the vote-integrity detector now (the counters
loop runs each when it is due; see app.moderation.integrity)."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from app.moderation import integrity

moderation_cli = AppGroup("moderation", help="审核：刷票线索检测。")


@moderation_cli.command("detect")
def detect() -> None:
    """Score the likes of the last 15 minutes, hour and day, and open a flag where the score is high."""
    flags = integrity.detect(force=True)
    click.echo(f"检测完成：{len(flags)} 件作品有刷票线索。")
    for flag in flags:
        click.echo(f"  作品 {flag.work_id}：评分 {flag.score:.1f}")
