"""`flask counters rebuild | reconcile | flush-views`: the Redis counters' maintenance, by hand.

The same jobs run on their own schedule in `flask schedule cron` (app/schedule.py)."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from app.engagement import counters
from app.engagement.reconcile import rebuild_counters, reconcile_counters
from app.engagement.views import flush_views

counters_cli = AppGroup("counters", help="点赞、评论、浏览计数与排行 / counters and rankings in Redis")


def _busy() -> click.ClickException:
    return click.ClickException("另一个计数任务正在运行，请稍后再试。/ another counters job is running")


@counters_cli.command("rebuild")
def rebuild() -> None:
    """Recompute every counter and ranking from SQL."""
    try:
        report = rebuild_counters()
    except counters.JobBusy as exc:
        raise _busy() from exc
    click.echo(
        f"已重建：{report.works} 个作品的计数，{report.rankings} 个排行榜（共 {report.ranked_entries} 条）"
        f"；清除已删除作品 {report.forgotten_works} 个；待复核 {report.unsettled} 个。"
    )


@counters_cli.command("reconcile")
def reconcile() -> None:
    """Compare Redis with SQL for every published work and repair drift."""
    try:
        drifts = reconcile_counters()
    except counters.JobBusy as exc:
        raise _busy() from exc
    for drift in drifts:
        click.echo(f"已修复 {drift}")
    click.echo(f"核对完成：修复 {len(drifts)} 处偏差。" if drifts else "核对完成：计数与数据库一致。")


@counters_cli.command("flush-views")
def flush_views_command() -> None:
    """Write buffered views to SQL now."""
    try:
        flushed = flush_views()
    except counters.JobBusy as exc:
        raise _busy() from exc
    click.echo(f"已写入 {flushed} 次浏览。")
