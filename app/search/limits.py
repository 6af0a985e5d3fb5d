"""The rate limit on searching, shared by the results page and ``GET /api/v1/works?q=``.

A search is the most expensive read the site serves (trigram matching over every published work),
and anyone may run it without an account, so a scraper or a bot could loop it. The limit is per IP
(``SEARCH_IP_RATE_LIMIT``) and generous, because an office behind one NAT searches together;
plain listings without ``q`` are not searches and are not counted.
"""

from __future__ import annotations

from flask import current_app, request
from flask_babel import gettext as _

from app.clients import client_ip
from app.extensions import limiter


def _not_a_search() -> bool:
    return not request.args.get("q") and request.args.get("sort") != "relevance"


search_limit = limiter.shared_limit(
    lambda: current_app.config["SEARCH_IP_RATE_LIMIT"],
    scope="search-ip",
    key_func=client_ip,
    error_message=lambda: _("搜索太频繁了，请稍后再试。"),
    exempt_when=_not_a_search,
)
