"""The demo's micro-film and micro-videos: made at first run, sent through the real pipeline.

``flask demo load`` leaves them as drafts and enqueues one job per work on the media queue
(``media_worker.jobs.upload_demo_clip``): the worker draws the clip with ffmpeg, uploads it
through an upload session as the collective's member would, and completing the upload enqueues
the transcode like any other. The web server serves meanwhile; the member's "我的作品" page shows
the progress.

Once a transcode has finished, :func:`publish_demo_video` (run by the worker, after the transcode)
plays the moderator: it approves the work, as a person would after watching it, and the first
people like, comment on and watch it. The film also goes first on the featured wall. One video is
left waiting in the review queue for whoever tries the moderator's account.
"""

from __future__ import annotations

import logging
import random
from typing import Any

import sqlalchemy as sa
from flask import current_app

from app.demo import content, refuse_in_production
from app.demo.content import DemoVideo
from app.engagement import comments as comment_service
from app.engagement import counters, views
from app.engagement import services as engagement
from app.extensions import db
from app.models import User, Work, WorkStatus
from app.moderation import services as moderation
from app.queue import enqueue_job
from app.wall import services as wall

log = logging.getLogger(__name__)

CLIP_JOB = "media_worker.jobs.upload_demo_clip"
PUBLISH_JOB = "app.demo.videos.publish_demo_video"
CLIP_JOB_TIMEOUT = 600
MODERATOR_EMAIL = "demo-moderator@example.com"
FAN_EMAILS = "demo-fan%@example.com"
WALL_SIZE = len(content.WALL)


def clip_job_id(work_id: int) -> str:
    # The queue's name in the id: RQ's job keys are global to the Redis server.
    return f"{current_app.config['MEDIA_QUEUE']}-demo-clip-{work_id}"


def clip_spec(video: DemoVideo, collective_name: str) -> dict[str, Any]:
    seconds = current_app.config["DEMO_CLIP_SECONDS"] or video.seconds
    return {
        "title": video.title,
        "subtitle": collective_name,
        "width": video.width,
        "height": video.height,
        "seconds": float(seconds),
        "colors": list(video.colors),
        "key": video.key,
    }


def enqueue_clips(work_ids: list[int]) -> None:
    """One clip job per demo film or video (``content.VIDEOS`` order)."""
    for work_id, video in zip(work_ids, content.VIDEOS, strict=True):
        work = db.session.get(Work, work_id)
        enqueue_job(
            CLIP_JOB,
            work_id,
            clip_spec(video, work.collective.name),
            PUBLISH_JOB if video.publish else None,
            job_id=clip_job_id(work_id),
            job_timeout=CLIP_JOB_TIMEOUT,
            result_ttl=24 * 3600,
            failure_ttl=7 * 24 * 3600,
        )


def _video_of(work: Work) -> DemoVideo | None:
    return next((v for v in content.VIDEOS if v.title == work.title and v.kind == work.kind), None)


def publish_demo_video(work_id: int) -> dict[str, Any]:
    """After its transcode: approve a demo video, then its first likes, comments and views."""
    refuse_in_production()
    work = db.session.get(Work, work_id)
    video = _video_of(work) if work is not None else None
    moderator = db.session.scalar(sa.select(User).where(User.email == MODERATOR_EMAIL))
    if work is None or video is None or moderator is None or work.status != WorkStatus.PENDING_REVIEW:
        # Transcoding failed, or someone reviewed it first: a person's decision stands.
        log.info("demo video %s left as it is (%s)", work_id, work.status if work else "gone")
        return {"skipped": str(work.status) if work else "no_work"}
    moderation.approve_work(moderator, work.id)
    rng = random.Random(work.id)
    fans = list(db.session.scalars(sa.select(User).where(User.email.like(FAN_EMAILS)).order_by(User.id)))
    rng.shuffle(fans)
    # Fewer likes than a burst in one window (app.moderation.integrity): these are ordinary fans.
    for fan in fans[: round(8 * video.popularity)]:
        engagement.like_work(
            fan, work, ip=f"10.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
        )
    first = None
    for index, body in content.VIDEO_COMMENTS:
        if index < len(fans):
            comment = comment_service.post_comment(fans[index], work, body)
            first = first or comment
    if first is not None and work.author is not None:
        comment_service.post_comment(work.author, work, content.VIDEO_MEMBER_REPLY, first.id)
    for i in range(round(rng.uniform(40, 90) * video.popularity)):
        views.record_view(work, views.viewer_key(None, f"192.0.2.{i % 250}", f"demo-video/{i // 250}"))
    try:
        # Now rather than at the next minute: the dashboard agrees with the cards at once.
        views.flush_views(lock_wait=5)
    except counters.JobBusy:
        log.info("views of demo video %s are flushed by the next minute job", work.id)
    if video.feature:
        current = [item.work.id for item in wall.featured()]
        keep = current[: WALL_SIZE - 1] if len(current) >= WALL_SIZE else current
        wall.set_order(moderator, [work.id, *[i for i in keep if i != work.id]])
    log.info("demo video %s (%s) published", work.id, work.title)
    return {"published": work.id}
