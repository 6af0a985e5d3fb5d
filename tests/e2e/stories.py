"""The published story the browser tests read, like and comment on."""

from __future__ import annotations

from app.engagement import services
from app.extensions import db
from app.models import Work, WorkKind, WorkStatus, utcnow


def published_story(collective, campaign) -> Work:
    work = Work(
        collective_id=collective.id,
        campaign_id=campaign.id,
        kind=WorkKind.STORY,
        title="站台上的温暖守候",
        summary="末班车前的十分钟",
        body="深夜的站台……",
        body_html="<p>深夜的站台，值班员一直等到最后一位乘客上车。</p>",
        status=WorkStatus.PUBLISHED,
        published_at=utcnow(),
    )
    db.session.add(work)
    db.session.commit()
    services.work_published(work)
    return work
