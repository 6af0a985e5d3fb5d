"""`flask demo load [--if-empty]` (what it loads: app/demo/__init__.py)."""

from __future__ import annotations

import click
import sqlalchemy as sa
from flask import current_app
from flask.cli import AppGroup, with_appcontext

from app.demo import content, refuse_in_production
from app.demo.history import load_demo
from app.demo.videos import enqueue_clips
from app.engagement import counters
from app.extensions import db
from app.models import User, Work
from app.queue import forget_jobs

demo_cli = AppGroup("demo", help="演示数据 / demo data")


def _database_is_empty() -> bool:
    return all(db.session.scalar(sa.select(model.id).limit(1)) is None for model in (User, Work))


@demo_cli.command("load")
@click.option("--if-empty", is_flag=True, help="Do nothing (and succeed) when the database has data.")
@with_appcontext
def load(if_empty: bool) -> None:
    """Load a campaign in full swing into an empty database: collectives, accounts, works of every
    kind, two weeks of likes, comments and views, a featured wall, a review queue, a flagged burst."""

    refuse_in_production()
    if not _database_is_empty():
        if if_empty:
            click.echo("demo data: the database already has accounts, nothing loaded.")
            return
        raise click.ClickException(
            "数据库里已经有数据，演示数据只能加载到空数据库。 / The database is not empty: the demo "
            "loads into an empty database only (`flask demo load --if-empty` skips quietly)."
        )
    # Nothing in this Redis prefix and media queue can belong to an empty database: numbers and
    # job records left by an earlier one (instance/ deleted, Redis still running) would be taken
    # for this one's, since ids start from 1 again.
    stale = counters.forget_all() + forget_jobs()
    if stale:
        click.echo(f"demo data: cleared {stale} Redis keys left by an earlier database.", err=True)
    # Storage URLs of the local backend are built with url_for, which needs a request context.
    with current_app.test_request_context("/"):
        loaded = load_demo()
        enqueue_clips(loaded.videos)
    published = sum(not story.waiting for story in content.STORIES)
    waiting = len(content.STORIES) - published
    click.echo(
        f"演示数据已加载 / demo data loaded: 1 个活动、{len(content.COLLECTIVES)} 个集体、"
        f"{published} 篇已发布的微故事（两周的点赞、评论和浏览）、{waiting} 篇待审核，"
        f"展示墙 {len(content.WALL)} 件作品。"
    )
    click.echo(
        f"{len(content.VIDEOS)} 个演示视频（微电影、微视频）正由媒体处理进程生成、上传和转码，"
        "约一分钟后可以播放；以集体成员账号登录，在“我的作品”里可以看到处理进度。"
    )
    click.echo("")
    click.echo("=" * 72)
    click.echo("演示账号 / demo accounts — passwords are shown ONCE, write them down:")
    for label, email, password in loaded.credentials:
        click.echo(f"  {label}")
        click.echo(f"      email: {email}    password: {password}")
    click.echo("=" * 72)
