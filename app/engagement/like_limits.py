"""Rate limits on likes and unlikes (PUT and DELETE /api/v1/works/<id>/like).

Per account (``LIKE_RATE_LIMIT``): a person, or a script holding one account, can only click so
fast. Per IP (``LIKE_IP_RATE_LIMIT``), generous: colleagues behind one office NAT must all be able
to like in the same minutes. Likes and unlikes share both budgets, so toggling costs as liking.
"""

from __future__ import annotations

from flask_babel import gettext as _

from app.rate_limits import account_and_ip_limits

like_limits = account_and_ip_limits(
    "like",
    account_setting="LIKE_RATE_LIMIT",
    ip_setting="LIKE_IP_RATE_LIMIT",
    message=lambda: _("点赞太频繁了，请稍后再试。"),
)
