"""The API v1 representations of campaigns and collectives (DESIGN.md: field names are a contract)."""

from __future__ import annotations

from typing import Any

from app.catalog.collectives import badge_url
from app.models import Campaign, Collective


def campaign_to_dict(campaign: Campaign) -> dict[str, Any]:
    return {
        "id": campaign.id,
        "title": campaign.title,
        "submission_opens": campaign.submission_opens.isoformat(),
        "submission_closes": campaign.submission_closes.isoformat(),
        "voting_opens": campaign.voting_opens.isoformat(),
        "voting_closes": campaign.voting_closes.isoformat(),
    }


def collective_to_dict(collective: Collective) -> dict[str, Any]:
    return {
        "id": collective.id,
        "name": collective.name,
        "industry": collective.industry,
        "province": collective.province,
        "level": str(collective.level),
        "badge": badge_url(collective),
        "promise": collective.promise,
        "supervision_channel": collective.supervision_channel,
    }
