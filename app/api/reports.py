"""API v1: reports (举报) on works and comments, by signed-in accounts.

The same service and the same rate limits as the report form (app/moderation/reports.py). A
repeated report of a target one has an open report on answers that report again: the client
need not know whether it was the first.
"""

from __future__ import annotations

from flask_login import current_user

from app.api import bp
from app.api.helpers import json_body, login_required_api
from app.moderation import reports
from app.moderation.report_limits import report_limits


@bp.post("/reports")
@report_limits
@login_required_api
def create_report():
    data = json_body()
    report = reports.create_report(
        current_user, data.get("target_type"), data.get("target_id"), data.get("reason")
    )
    return {"report": reports.report_to_dict(report)}, 201
