"""Rate limits on reports (举报), shared by the report form and the API.

Per account (``REPORT_RATE_LIMIT``): a person reports a few things, a script hundreds, and every
report costs a moderator a look. Per IP (``REPORT_IP_RATE_LIMIT``), generous: colleagues behind
one office NAT may all report the same spam. Only POSTs count.
"""

from __future__ import annotations

from flask_babel import gettext as _

from app.rate_limits import account_and_ip_limits

report_limits = account_and_ip_limits(
    "report",
    account_setting="REPORT_RATE_LIMIT",
    ip_setting="REPORT_IP_RATE_LIMIT",
    message=lambda: _("举报太频繁了，请稍后再试。"),
    methods=["POST"],
)
