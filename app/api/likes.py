"""API v1: likes — PUT to like a work, DELETE to take the like back; repeating either changes nothing.

Log-in is checked before the rate limits, so anonymous calls get 401 and spend no budget.
"""

from __future__ import annotations

from flask_login import current_user

from app.api import bp
from app.api.docs import answers
from app.api.helpers import login_required_api
from app.api.schemas import LikeState
from app.clients import client_ip
from app.engagement import services as engagement
from app.engagement.like_limits import like_limits
from app.works.services import get_visible_work


@bp.put("/works/<int:id>/like")
@answers(200, LikeState, refusing=(400, 401, 403, 404, 409, 429, 503), signed_in=True)
@login_required_api
@like_limits
def like_work(id: int):
    """Like a published work in its voting window; repeating it changes nothing

    403 email_unverified while the account has not confirmed its e-mail address and the site
    requires it (REQUIRE_VERIFIED_EMAIL).
    """
    work = get_visible_work(id, current_user, media=False)
    liked, likes = engagement.like_work(current_user, work, client_ip())
    return {"liked": liked, "likes": likes}


@bp.delete("/works/<int:id>/like")
@answers(200, LikeState, refusing=(400, 401, 404, 409, 429, 503), signed_in=True)
@login_required_api
@like_limits
def unlike_work(id: int):
    """Take a like back (in the voting window); repeating it changes nothing"""
    liked, likes = engagement.unlike_work(current_user, get_visible_work(id, current_user, media=False))
    return {"liked": liked, "likes": likes}
