"""Who an anonymous viewer is: a first-party visitor id in a signed, long-lived cookie.

Views count once per viewer per work per day (app/engagement/views.py). Keyed on IP + User-Agent,
a script counted a new viewer for every User-Agent it invented. Now:

- a signed-in viewer is the account, and a browser that has our ``vid`` cookie is that id: the
  work page counts them when it is opened;
- a browser without the cookie gets one with the page, and the page's small script (views.js)
  asks ``POST /works/<id>/view`` to count it; that request brings the cookie back, so the view
  counts for the new id. A client that never returns cookies (a script, or a browser refusing
  them) is counted on IP + User-Agent only as a fallback, and however many User-Agents it
  invents, one address adds at most COOKIELESS_VIEWERS_PER_IP viewers per work per day
  (``views.viewer_key``);
- a script that throws each cookie away and asks for a new one would be a new viewer every time:
  one address (an IPv6 /64) is given at most VISITOR_COOKIE_IP_RATE_LIMIT new ids
  (``may_give_cookie``); past that, its first visits count on its address, as a client refusing
  cookies does;
- the counting request carries a token the page was rendered with (signed over the work id,
  valid for a day), so views cannot be posted for works nobody opened.

The cookie holds a random id and its signature (SECRET_KEY), HttpOnly, SameSite=Lax, Secure where
the session cookie is; it identifies a browser to this site only and carries nothing personal.
"""

from __future__ import annotations

import secrets

from flask import Response, current_app, request
from itsdangerous import BadSignature, SignatureExpired, Signer, TimestampSigner

from app import rate_limits
from app.clients import address_block, client_ip, is_known_remote
from app.observability import metrics
from app.secret_keys import signing_keys

COOKIE = "vid"
_COOKIE_SALT = "visitor-id"
_BEACON_SALT = "view-beacon"
BEACON_MAX_AGE = 24 * 3600


def _cookie_signer() -> Signer:
    return Signer(signing_keys(), salt=_COOKIE_SALT)


def visitor_id() -> str | None:
    """The id of the request's visitor cookie, when it carries a genuine one."""
    return _read_cookie()[0]


def renew_cookie(response: Response) -> Response:
    """Give the request's visitor id again, signed with the current key, when only a key retired
    by a rotation signed it (app/secret_keys.py): the cookie lasts VISITOR_COOKIE_DAYS, far longer
    than a retired key stays listed, and the visitor would be a new viewer once it is dropped."""
    if not current_app.config.get("SECRET_KEY_FALLBACKS"):
        return response  # no retired key: nothing to read the cookie again for (every beacon)
    vid, current = _read_cookie()
    if vid is not None and not current:
        give_cookie(response, vid)
    return response


def _read_cookie() -> tuple[str | None, bool]:
    """(the id of a genuine visitor cookie or None, whether the current key signed it)."""
    raw = request.cookies.get(COOKIE)
    if not raw or len(raw) > 100:
        return None, True
    signer = _cookie_signer()
    try:
        vid = signer.unsign(raw).decode()
    except BadSignature:
        return None, True
    current = len(signer.secret_keys) == 1 or Signer(signer.secret_key, salt=_COOKIE_SALT).validate(raw)
    return vid, current


def new_visitor_id() -> str:
    return secrets.token_urlsafe(16)


def may_give_cookie() -> bool:
    """Whether the request's address may be given one more visitor id now: the per-address
    budget VISITOR_COOKIE_IP_RATE_LIMIT, generous because a campus or an office behind one NAT
    opens a shared link together; past it, only a script is still asking. An IPv6 client is its
    /64. A request whose address is unknown or loopback (a proxy nobody declared, PROXY_HOPS)
    is not limited: there every visitor of the site would share one budget, and the views would
    silently collapse onto the address fallback."""
    address = client_ip()
    if not is_known_remote(address):
        return True
    if rate_limits.within("visitor-cookie-ip", address_block(address), "VISITOR_COOKIE_IP_RATE_LIMIT"):
        return True
    metrics.VISITOR_COOKIES_REFUSED.inc()
    return False


def give_cookie(response: Response, vid: str) -> Response:
    config = current_app.config
    response.set_cookie(
        COOKIE,
        _cookie_signer().sign(vid).decode(),
        max_age=config["VISITOR_COOKIE_DAYS"] * 24 * 3600,
        httponly=True,
        samesite="Lax",
        secure=config.get("SESSION_COOKIE_SECURE", False),
    )
    return response


def _beacon_signer() -> TimestampSigner:
    return TimestampSigner(signing_keys(), salt=_BEACON_SALT)


def beacon_token(work_id: int) -> str:
    return _beacon_signer().sign(str(work_id)).decode()


def beacon_work_id(token: str | None) -> int | None:
    """The work a genuine, unexpired view token was made for; else None."""
    if not token or len(token) > 200:
        return None
    try:
        signed = _beacon_signer().unsign(token, max_age=BEACON_MAX_AGE).decode()
    except (BadSignature, SignatureExpired):
        return None
    return int(signed) if signed.isdigit() else None


def beacon_token_valid(token: str | None, work_id: int) -> bool:
    return beacon_work_id(token) == work_id
