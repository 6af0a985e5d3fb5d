"""`flask counters rebuild | reconcile | flush-views | run`: the Redis counters' maintenance."""

from __future__ import annotations

import signal
import threading

import click
from flask.cli import AppGroup

from app.engagement import counters
from app.engagement.reconcile import rebuild_counters, reconcile_counters, run_periodic
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


@counters_cli.command("run")
@click.option("--interval", default=60.0, show_default=True, help="秒：写入浏览、复核排队作品的间隔")
@click.option("--reconcile-every", default=10, show_default=True, help="每隔几轮做一次全面核对")
def run(interval: float, reconcile_every: int) -> None:
    """Run the periodic housekeeping loop until interrupted (Ctrl-C or SIGTERM)."""
    # SIGTERM (process managers, `make run` stopping) ends the loop between jobs, never inside a
    # flush: a flush killed between taking the views and committing them would lose that batch.
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda signum, frame: stop.set())
    click.echo(f"计数维护已启动：每 {interval:g} 秒一轮，每 {reconcile_every} 轮全面核对。")
    try:
        run_periodic(interval, reconcile_every=reconcile_every, stop=stop, jobs=_minute_jobs())
    except KeyboardInterrupt:
        pass
    click.echo("计数维护已停止。")


def _minute_jobs():
    # Imported here: moderation builds on engagement, never the other way round; only this
    # process entry point puts the two loops together.
    from app.moderation.integrity import detect

    return [("detect likes", detect)]
