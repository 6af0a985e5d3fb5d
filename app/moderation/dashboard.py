"""The organisers' dashboard: works published, likes, comments and views per day, by province or
by industry, within the moderator's scope; the same numbers as charts and as CSV.

Every figure is counted in SQL (the truth), grouped by day in the campaign's time zone: likes and
comments from their rows, works by their publication time, views from ``view_day`` (what the
periodic views flush writes; views not flushed yet show up within a minute).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask_babel import gettext as _

from app import clock
from app.errors import ServiceError
from app.extensions import db
from app.ids import query_id, query_int
from app.models import Collective, Comment, CommentStatus, Like, ViewDay, Work, WorkStatus
from app.policy import province_of, require_moderator

METRICS = ("works", "likes", "comments", "views")
GROUPS = ("province", "industry")
PERIODS = (7, 30, 90)


@dataclass
class Dashboard:
    group: str
    days: list[date]
    # group value -> metric -> one count per day of ``days``
    series: dict[str, dict[str, list[int]]] = field(default_factory=dict)

    def totals(self, name: str) -> dict[str, int]:
        return {metric: sum(values) for metric, values in self.series[name].items()}

    def as_json(self) -> dict[str, Any]:
        return {
            "group": self.group,
            "days": [day.isoformat() for day in self.days],
            "metrics": list(METRICS),
            "series": self.series,
        }


def _local_day(column: Any) -> Any:
    """The local calendar day of a UTC timestamp column, computed in SQL."""
    if db.engine.dialect.name == "postgresql":
        return sa.func.date(sa.func.timezone(clock.zone().key, column))
    # SQLite keeps UTC text; the campaign's zone has no daylight saving, so a fixed offset is exact.
    offset = clock.utc_offset()
    return sa.func.date(column, f"{offset.total_seconds() / 3600:+.2f} hours")


def _as_date(value: Any) -> date:
    return value if isinstance(value, date) else datetime.strptime(str(value), "%Y-%m-%d").date()


def parse_options(args: Any) -> tuple[str, int, int | None]:
    group = args.get("group") or "province"
    if group not in GROUPS:
        raise ServiceError(
            _("参数 %(name)s 的取值无效：%(value)s", name="group", value=group), code="invalid_parameter"
        )
    period = query_int("days", minimum=1, maximum=max(PERIODS), default=30, args=args)
    campaign_id = query_id("campaign_id", args)
    if period not in PERIODS:
        raise ServiceError(
            _("参数 %(name)s 的取值无效：%(value)s", name="days", value=period), code="invalid_parameter"
        )
    return group, period, campaign_id


def build(
    moderator: Any, *, group: str = "province", period: int = 30, campaign_id: int | None = None
) -> Dashboard:
    """The last ``period`` days (today included) in the moderator's scope."""
    require_moderator(moderator)
    today = clock.local_today()
    first = today - timedelta(days=period - 1)
    # Local midnight of the first day, as an aware datetime: compared in UTC by the database.
    since = clock.local_midnight(first)
    days = [first + timedelta(days=n) for n in range(period)]
    index = {day: n for n, day in enumerate(days)}
    key = Collective.province if group == "province" else Collective.industry
    province = province_of(moderator)

    # metric -> (the day, the figure, the row's work, what counts)
    sources = {
        "works": (_local_day(Work.published_at), sa.func.count(), None,
                  [Work.status == WorkStatus.PUBLISHED, Work.published_at >= since]),
        "likes": (_local_day(Like.created_at), sa.func.count(), Like.work_id, [Like.created_at >= since]),
        "comments": (_local_day(Comment.created_at), sa.func.count(), Comment.work_id,
                     [Comment.status == CommentStatus.VISIBLE, Comment.created_at >= since]),
        "views": (ViewDay.day, sa.func.sum(ViewDay.views), ViewDay.work_id, [ViewDay.day >= first]),
    }  # fmt: skip
    dashboard = Dashboard(group, days)
    for metric, (day_col, value, work_id, where) in sources.items():
        query = sa.select(day_col, key, value)
        if work_id is None:
            query = query.select_from(Work)
        else:
            query = query.select_from(work_id.table).join(Work, Work.id == work_id)
        query = query.join(Collective, Collective.id == Work.collective_id).where(*where)
        if province is not None:
            query = query.where(Collective.province == province)
        if campaign_id is not None:
            query = query.where(Work.campaign_id == campaign_id)
        for day, name, n in db.session.execute(query.group_by(day_col, key)):
            position = index.get(_as_date(day))
            if position is None:
                continue
            row = dashboard.series.setdefault(name, {m: [0] * period for m in METRICS})
            row[metric][position] += int(n or 0)
    # Busiest first: the charts show the first few and fold the rest into "其他".
    dashboard.series = dict(
        sorted(
            dashboard.series.items(),
            key=lambda item: (-sum(item[1]["likes"]), -sum(item[1]["works"]), item[0]),
        )
    )
    return dashboard


def _safe_cell(value: Any) -> Any:
    # A spreadsheet runs a cell that starts with one of these as a formula (CSV injection).
    text = str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def to_csv(dashboard: Dashboard) -> str:
    """One row per day and group; with a BOM so that Excel opens the Chinese names correctly."""
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out)
    label = _("省份") if dashboard.group == "province" else _("行业")
    writer.writerow([_("日期"), label, _("新发布作品"), _("点赞"), _("点评"), _("浏览")])
    for name, metrics in dashboard.series.items():
        for n, day in enumerate(dashboard.days):
            writer.writerow([day.isoformat(), _safe_cell(name), *(metrics[m][n] for m in METRICS)])
    return out.getvalue()
