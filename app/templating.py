"""Jinja globals and filters shared by every page."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from flask import Flask, current_app
from flask_babel import get_locale

from app import field_limits
from app.catalog.lists import (
    INDUSTRIES,
    PROVINCES,
    industry_label,
    kind_label,
    level_label,
    province_label,
    status_label,
)


def _local_time(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    if value is None:
        return ""
    return value.astimezone(ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"])).strftime(fmt)


def init_templating(app: Flask) -> None:
    app.jinja_env.filters["local_time"] = _local_time
    app.jinja_env.globals.update(
        get_locale=get_locale,
        INDUSTRIES=INDUSTRIES,
        PROVINCES=PROVINCES,
        kind_label=kind_label,
        industry_label=industry_label,
        province_label=province_label,
        level_label=level_label,
        status_label=status_label,
        # Form fields' maxlength, from the one home of the limits the services enforce.
        limits=field_limits,
    )
