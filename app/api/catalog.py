"""API v1: campaigns and collectives."""

from __future__ import annotations

from app.api import bp
from app.api.docs import answers
from app.api.schemas import CampaignList, Collective
from app.works import services as svc


@bp.get("/campaigns")
@answers(200, CampaignList)
def list_campaigns():
    """Campaigns with their submission and voting windows"""
    return {"items": [svc.campaign_to_dict(campaign) for campaign in svc.list_campaigns()]}


# The path parameter is named `id`, as the published spec names it.
@bp.get("/collectives/<int:id>")
@answers(200, Collective, refusing=(404,))
def get_collective(id: int):
    """A collective's public profile"""
    return svc.collective_to_dict(svc.get_collective(id))
