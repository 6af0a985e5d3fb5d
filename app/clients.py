"""Who is asking: the client's address, and the headers that say a proxy stands in between.

One ``client_ip`` for everything that keys on an address (per-IP rate limits, the like's
recorded address for the vote-integrity detector, views, access logs, ``/metrics``). It is the
socket's peer, or, with ``PROXY_HOPS`` set, the address ProxyFix took from the trusted hops of
``X-Forwarded-For`` (app/__init__.py). No other header is ever read for it: ``X-Real-IP``,
``Forwarded`` and the rest are whatever the client chose to write.
"""

from __future__ import annotations

import ipaddress

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


def address_block(ip: str) -> str:
    """What one client holds of the address space: an IPv6 address's /64 (one subscriber's
    network, where a client can take a new address for every request), else the address."""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return ip
    if address.version == 4:
        return str(address)
    if address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return str(ipaddress.ip_network(f"{address}/64", strict=False))


def is_known_remote(ip: str) -> bool:
    """Whether ``ip`` is a client's own address: not unknown, not loopback. A web process behind a
    proxy that nobody declared (PROXY_HOPS=0) sees every client as the proxy's loopback address;
    per-address budgets that fail silently, rather than with a 429, skip such addresses."""
    try:
        return not ipaddress.ip_address(ip).is_loopback
    except ValueError:
        return False


def forwarding_headers_present() -> list[str]:
    """The forwarding headers this request carries (none, for a client talking to us directly)."""
    return [name for name in FORWARDING_HEADERS if name in request.headers]
