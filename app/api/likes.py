"""API v1: likes — PUT to like a work, DELETE to take the like back; repeating either changes nothing.

Log-in is checked before the rate limits, so anonymous calls get 401 and spend no budget.
"""

from __future__ import annotations

from flask_login import current_user

from app.api import bp
from app.api.helpers import login_required_api
from app.clients import client_ip
from app.engagement import services as engagement
from app.engagement.like_limits import like_limits
from app.works.services import get_visible_work


@bp.put("/works/<int:id>/like")
@login_required_api
@like_limits
def like_work(id: int):
    work = get_visible_work(id, current_user, media=False)
    liked, likes = engagement.like_work(current_user, work, client_ip())
    return {"liked": liked, "likes": likes}


@bp.delete("/works/<int:id>/like")
@login_required_api
@like_limits
def unlike_work(id: int):
    liked, likes = engagement.unlike_work(current_user, get_visible_work(id, current_user, media=False))
    return {"liked": liked, "likes": likes}
