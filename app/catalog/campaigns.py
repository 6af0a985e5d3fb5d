"""Campaigns and their two windows: submission (works are created and edited) and voting (likes).

A closed window is **409 Conflict**: the request is well-formed and the person may do it, but not
in the campaign's current state. 403 stays reserved for "you may not", so clients can tell "not
now" from "not you". An unknown campaign named in a request body is **422** ``unknown_campaign``
(a bad field value). Windows follow app/clock.py: half-open [opens, closes), named in the
campaign's time zone (Beijing time).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask_babel import gettext as _

from app.clock import format_local, in_window, utcnow
from app.errors import ServiceError, ValidationFailed
from app.extensions import db
from app.ids import parse_id
from app.models import Campaign


def submission_is_open(campaign: Campaign, now: datetime | None = None) -> bool:
    return in_window(campaign.submission_opens, campaign.submission_closes, now)


def ensure_submission_open(campaign: Campaign, now: datetime | None = None) -> None:
    """Refuse (409 ``submission_closed``) outside the campaign's submission window."""
    if not submission_is_open(campaign, now):
        raise ServiceError(
            _(
                "本次活动的作品征集时间为 %(opens)s 至 %(closes)s，现在不在征集期内。",
                opens=format_local(campaign.submission_opens),
                closes=format_local(campaign.submission_closes),
            ),
            code="submission_closed",
            status=409,
        )


def voting_is_open(campaign: Campaign, now: datetime | None = None) -> bool:
    return in_window(campaign.voting_opens, campaign.voting_closes, now)


def ensure_voting_open(campaign: Campaign, now: datetime | None = None) -> None:
    """Refuse (409 ``voting_closed``) outside the campaign's voting window, naming the window in
    Beijing time. The one check and the one message for everything the window gates."""
    if not voting_is_open(campaign, now):
        raise ServiceError(
            _(
                "本次活动的投票时间为 %(opens)s 至 %(closes)s，现在不在投票期内。",
                opens=format_local(campaign.voting_opens),
                closes=format_local(campaign.voting_closes),
            ),
            code="voting_closed",
            status=409,
        )


def get_campaign(campaign_id: Any) -> Campaign:
    """The campaign a request names, or 422 ``unknown_campaign``."""
    campaign_id = parse_id(campaign_id)
    campaign = db.session.get(Campaign, campaign_id) if campaign_id is not None else None
    if campaign is None:
        message = _("活动不存在。")
        raise ValidationFailed(message, code="unknown_campaign", fields={"campaign_id": message})
    return campaign


def list_campaigns() -> list[Campaign]:
    return list(db.session.scalars(sa.select(Campaign).order_by(Campaign.submission_opens.desc())))


def campaigns_open_for_submission(now: datetime | None = None) -> list[Campaign]:
    now = now or utcnow()
    return list(
        db.session.scalars(
            sa.select(Campaign)
            .where(Campaign.submission_opens <= now, Campaign.submission_closes > now)
            .order_by(Campaign.submission_closes)
        )
    )


def create_campaign(
    title: str,
    *,
    submission_opens: datetime,
    submission_closes: datetime,
    voting_opens: datetime,
    voting_closes: datetime,
    description: str = "",
) -> Campaign:
    if not title.strip():
        raise ValidationFailed(_("请填写活动名称。"), fields={"title": _("必填")})
    if submission_opens >= submission_closes or voting_opens >= voting_closes:
        raise ValidationFailed(_("活动的开始时间必须早于结束时间。"))
    campaign = Campaign(
        title=title.strip(),
        description=description,
        submission_opens=submission_opens,
        submission_closes=submission_closes,
        voting_opens=voting_opens,
        voting_closes=voting_closes,
    )
    db.session.add(campaign)
    db.session.commit()
    return campaign
