"""API v1: likes — PUT to like a work, DELETE to take the like back; repeating either changes nothing.

Log-in is checked before the rate limits, so anonymous calls get 401 and spend no budget. The
rate limits (LIKE_RATE_LIMIT, LIKE_IP_RATE_LIMIT) are checked in the Redis round trip that opens
the like's fence (``engagement.like_gate``), then the work is read.
"""

from __future__ import annotations

from flask import g, request
from flask_login import current_user

from app.api import bp
from app.api.docs import answers
from app.api.helpers import login_required_api
from app.api.schemas import LikeState
from app.auth import sessions
from app.auth.services import bearer_token
from app.clients import client_ip
from app.engagement import services as engagement
from app.engagement.like_targets import like_target


def _bearer() -> tuple[str, int] | None:
    """(token, token id) of a call signed in with an API token: the like re-checks it in SQL."""
    token_id = g.get("api_token_id")
    return None if token_id is None else (bearer_token(request) or "", token_id)


@bp.put("/works/<int:id>/like")
@answers(200, LikeState, refusing=(400, 401, 403, 404, 409, 429, 503), signed_in=True)
@login_required_api
def like_work(id: int):
    """Like a published work in its voting window; repeating it changes nothing

    403 email_unverified while the account has not confirmed its e-mail address and the site
    requires it (REQUIRE_VERIFIED_EMAIL).
    """
    with engagement.like_gate(id) as flight:
        work = like_target(id, current_user)
        session = sessions.signed_in_session()
        liked, likes = engagement.like_work(
            current_user, work, client_ip(), flight=flight, bearer=_bearer(), session=session
        )
    return {"liked": liked, "likes": likes}


@bp.delete("/works/<int:id>/like")
@answers(200, LikeState, refusing=(400, 401, 404, 409, 429, 503), signed_in=True)
@login_required_api
def unlike_work(id: int):
    """Take a like back (in the voting window); repeating it changes nothing"""
    with engagement.like_gate(id) as flight:
        work = like_target(id, current_user)
        liked, likes = engagement.unlike_work(
            current_user, work, flight=flight, bearer=_bearer(), session=sessions.signed_in_session()
        )
    return {"liked": liked, "likes": likes}


# Both check the browser's login session again in the statement that writes, so they may take
# the account from the session cache (app/auth/session_cache.py).
sessions.rechecks_in_sql("api.like_work")
sessions.rechecks_in_sql("api.unlike_work")
