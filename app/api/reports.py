"""API v1: reports (举报) on works and comments, by signed-in accounts.

The same service and the same rate limits as the report form (app/moderation/reports.py). A
repeated report of a target one has an open report on answers that report again: the client
need not know whether it was the first.
"""

from __future__ import annotations

from typing import Any

from flask_login import current_user

from app.api import bp
from app.api.docs import answers
from app.api.helpers import login_required_api
from app.api.parsing import body
from app.api.schemas import ReportAnswer, ReportBody
from app.moderation import reports
from app.moderation.report_limits import report_limits


@bp.post("/reports")
@answers(201, ReportAnswer, refusing=(400, 401, 404, 415, 422, 429), signed_in=True)
@report_limits
@login_required_api
@body(ReportBody)
def create_report(data: dict[str, Any]):
    """Report a work or a comment the caller can see, with a reason

    While the caller's earlier report on it is open, that report is answered again instead of a
    new one.
    """
    report = reports.create_report(current_user, data["target_type"], data["target_id"], data["reason"])
    return {"report": reports.report_to_dict(report)}, 201
