"""Who is asking: the client's address, and the headers that say a proxy stands in between.

One ``client_ip`` for everything that keys on an address (per-IP rate limits, the like's
recorded address for the vote-integrity detector, views, access logs, ``/metrics``). It is the
socket's peer, or, with ``PROXY_HOPS`` set, the address ProxyFix took from the trusted hops of
``X-Forwarded-For`` (app/__init__.py). No other header is ever read for it: ``X-Real-IP``,
``Forwarded`` and the rest are whatever the client chose to write.
"""

from __future__ import annotations

from flask import request

# Headers a reverse proxy (or a client pretending to be one) adds. With PROXY_HOPS=0 the app
# faces clients itself, so a request carrying any of them came through a proxy nobody declared.
FORWARDING_HEADERS = (
    "Forwarded",
    "X-Forwarded-For",
    "X-Forwarded-Host",
    "X-Forwarded-Proto",
    "X-Forwarded-Port",
    "X-Forwarded-Prefix",
    "X-Real-IP",
    "X-Client-IP",
    "X-Cluster-Client-IP",
    "True-Client-IP",
    "CF-Connecting-IP",
    "Fastly-Client-IP",
)

UNKNOWN = "unknown"


def client_ip() -> str:
    """The client's address as far as the configured proxies let us know it."""
    return request.remote_addr or UNKNOWN


def forwarding_headers_present() -> list[str]:
    """The forwarding headers this request carries (none, for a client talking to us directly)."""
    return [name for name in FORWARDING_HEADERS if name in request.headers]
