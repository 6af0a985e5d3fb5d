"""`flask moderation detect`: score the last minutes' likes now (the counters loop runs it
every minute; see app.moderation.integrity)."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from app.moderation import integrity

moderation_cli = AppGroup("moderation", help="审核：刷票线索检测。")


@moderation_cli.command("detect")
@click.option("--minutes", default=int(integrity.WINDOW.total_seconds() // 60), show_default=True)
def detect(minutes: int) -> None:
    """Score every work liked in the last MINUTES and open a flag where the score is high."""
    from datetime import timedelta

    flags = integrity.detect(window=timedelta(minutes=minutes))
    click.echo(f"检测完成：{len(flags)} 件作品有刷票线索。")
    for flag in flags:
        click.echo(f"  作品 {flag.work_id}：评分 {flag.score:.1f}")
