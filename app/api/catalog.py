"""API v1: campaigns and collectives."""

from __future__ import annotations

from app.api import bp
from app.api.docs import answers
from app.api.schemas import CampaignList, Collective
from app.catalog import campaigns, collectives
from app.catalog.serialise import campaign_to_dict, collective_to_dict
from app.page_cache import cached, collective_group


@bp.get("/campaigns")
@answers(200, CampaignList)
@cached(lambda: "campaigns", kind="api")
def list_campaigns():
    """Campaigns with their submission and voting windows"""
    return {"items": [campaign_to_dict(campaign) for campaign in campaigns.list_campaigns()]}


# The path parameter is named `id`, as the published spec names it.
@bp.get("/collectives/<int:id>")
@answers(200, Collective, refusing=(404,))
@cached(lambda id: collective_group(id), kind="api")
def get_collective(id: int):
    """A collective's public profile"""
    return collective_to_dict(collectives.get_collective(id))
