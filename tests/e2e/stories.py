"""The published story the browser tests read, like and comment on."""

from __future__ import annotations

from app.engagement import services
from app.models import Work
from tests.builders_support import make_work


def published_story(collective, campaign) -> Work:
    work = make_work(
        collective,
        campaign,
        title="站台上的温暖守候",
        summary="末班车前的十分钟",
        body="深夜的站台……",
        body_html="<p>深夜的站台，值班员一直等到最后一位乘客上车。</p>",
    )
    services.work_published(work)  # in the rankings and counters, as publication puts it
    return work
