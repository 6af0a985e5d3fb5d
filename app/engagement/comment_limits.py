"""Rate limits on posting comments, shared by the comment form and the API.

Per account (``COMMENT_RATE_LIMIT``): the brake on one person flooding comments. Per IP
(``COMMENT_IP_RATE_LIMIT``), generous: an office NAT takes part together, so the IP ceiling only
stops a machine-made flood. Only POSTs count.
"""

from __future__ import annotations

from flask_babel import gettext as _

from app.rate_limits import account_and_ip_limits

comment_limits = account_and_ip_limits(
    "comment",
    account_setting="COMMENT_RATE_LIMIT",
    ip_setting="COMMENT_IP_RATE_LIMIT",
    message=lambda: _("评论太频繁了，请稍后再试。"),
    methods=["POST"],
)
