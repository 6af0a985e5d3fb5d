"""API v1: campaigns and collectives."""

from __future__ import annotations

from app.api import bp
from app.works import services as svc


@bp.get("/campaigns")
def list_campaigns():
    return {"items": [svc.campaign_to_dict(campaign) for campaign in svc.list_campaigns()]}


# The path parameter is named `id`, as the published spec (openapi.py) names it.
@bp.get("/collectives/<int:id>")
def get_collective(id: int):
    return svc.collective_to_dict(svc.get_collective(id))
