"""Moderation pages: the review queue with its actions, and the audit log.

Views stay thin: parse, call app.moderation.services, render or redirect. Every form posts back
here and returns to the queue it came from (same tab, filters and page) with a flashed outcome.
"""

from __future__ import annotations

from flask import Response, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from app.auth.routes import safe_next_url
from app.catalog.campaigns import list_campaigns
from app.errors import Forbidden, ServiceError
from app.ids import ID_MAX, query_int
from app.moderation import audit, bp, dashboard, vote_signals
from app.moderation import flags as vote_flags
from app.moderation import services as moderation
from app.policy import is_national, require_moderator
from app.works.listing import parse_work_filters
from app.works.serialise import work_media

_ACTION_DONE = {
    "approve": lambda title: _("《%(title)s》已审核通过并发布。", title=title),
    "reject": lambda title: _("《%(title)s》已设为不通过，集体会看到原因。", title=title),
    "recommend": lambda title: _("《%(title)s》已推报到全国组委会。", title=title),
    "unrecommend": lambda title: _("已撤回《%(title)s》的推报。", title=title),
}


def _back() -> str:
    """Where a form returns: its `next` field when it is a path on this site, else the queue."""
    return safe_next_url(request.form.get("next")) or url_for("moderation.queue")


@bp.get("/moderation")
@login_required
def queue():
    require_moderator(current_user)
    queue_name = request.args.get("queue") or "pending"
    filters, _sort = parse_work_filters(request.args)
    after = query_int("after", minimum=-ID_MAX, maximum=ID_MAX)
    page = moderation.review_queue(current_user, queue_name, filters, after_id=after)
    args = {k: v for k, v in request.args.items() if k != "after" and v}
    more_url = (
        url_for("moderation.queue", **args, after=page.next_cursor) if page.next_cursor is not None else None
    )
    return render_template(
        "moderation/queue.html",
        queue=queue_name,
        queues=[q for q in moderation.QUEUES if q != "recommended" or is_national(current_user)],
        works=page.works,
        media={work.id: work_media(work) for work in page.works},
        counts=moderation.queue_counts(current_user, filters),
        filters=filters,
        campaigns=list_campaigns(),
        more_url=more_url,
        here=request.full_path.rstrip("?"),
    )


@bp.post("/moderation/works/<int:work_id>/<action>")
@login_required
def act(work_id: int, action: str):
    if action not in moderation.ACTIONS:
        raise ServiceError(
            _("未知的审核操作：%(action)s", action=action), code="invalid_parameter", status=404
        )
    try:
        work = moderation.act(current_user, action, work_id, request.form.get("reason", ""))
    except ServiceError as exc:
        if exc.status in (401, 403, 404):
            raise
        flash(exc.message, "error")
    else:
        flash(_ACTION_DONE[action](work.title), "success")
    return redirect(_back())


@bp.post("/moderation/bulk")
@login_required
def bulk():
    try:
        result = moderation.bulk_act(
            current_user,
            request.form.get("action", ""),
            request.form.getlist("work_ids"),
            request.form.get("reason", ""),
        )
    except ServiceError as exc:
        if exc.status in (401, 403):
            raise
        flash(exc.message, "error")
    else:
        if result.done:
            flash(_("已处理 %(n)s 件作品。", n=len(result.done)), "success")
        for work_id, message in result.failed.items():
            flash(_("作品 %(id)s：%(message)s", id=work_id, message=message), "error")
    return redirect(_back())


@bp.get("/admin/audit")
@login_required
def audit_log():
    if not current_user.is_admin:
        raise Forbidden(_("只有管理员可以查看审核日志。"))
    before = query_int("before", minimum=-ID_MAX, maximum=ID_MAX)
    action = request.args.get("action") or None
    events = audit.events(before_id=before, limit=51, action=action)
    more_url = None
    if len(events) > 50:
        events = events[:50]
        more_url = url_for("moderation.audit_log", before=events[-1][0].id, action=action)
    return render_template("moderation/audit.html", events=events, action=action, more_url=more_url)


@bp.get("/moderation/flags")
@login_required
def flags():
    require_moderator(current_user)
    return render_template(
        "moderation/flags.html",
        flags=vote_flags.open_flags(current_user),
        weights=vote_signals.WEIGHTS,
        threshold=vote_signals.THRESHOLD,
        can_void=is_national(current_user),
    )


@bp.post("/moderation/flags/<int:flag_id>/<decision>")
@login_required
def decide_flag(flag_id: int, decision: str):
    reason = request.form.get("reason", "")
    try:
        if decision == "dismiss":
            vote_flags.dismiss_flag(current_user, flag_id, reason)
            flash(_("已确认这些点赞正常，线索已关闭。"), "success")
        elif decision == "void":
            vote_flags.void_flag(current_user, flag_id, reason)
            flash(_("可疑账号的点赞已作废，相关计数和排行已重新计算。"), "success")
        else:
            raise ServiceError(_("未知的处理方式。"), code="invalid_parameter", status=404)
    except ServiceError as exc:
        if exc.status in (401, 403, 404):
            raise
        flash(exc.message, "error")
    return redirect(url_for("moderation.flags"))


def _dashboard_options() -> tuple[str, int, int | None]:
    require_moderator(current_user)
    return dashboard.parse_options(request.args)


@bp.get("/moderation/dashboard")
@login_required
def dashboard_page():
    group, period, campaign_id = _dashboard_options()
    data = dashboard.build(current_user, group=group, period=period, campaign_id=campaign_id)
    return render_template(
        "moderation/dashboard.html",
        data=data,
        group=group,
        period=period,
        periods=dashboard.PERIODS,
        campaign_id=campaign_id,
        campaigns=list_campaigns(),
    )


@bp.get("/moderation/dashboard.csv")
@login_required
def dashboard_csv():
    group, period, campaign_id = _dashboard_options()
    data = dashboard.build(current_user, group=group, period=period, campaign_id=campaign_id)
    name = f"dashboard-{group}-{data.days[0].isoformat()}-{data.days[-1].isoformat()}.csv"
    return Response(
        dashboard.to_csv(data),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
