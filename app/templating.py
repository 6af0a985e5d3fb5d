"""Jinja globals and filters shared by every page."""

from __future__ import annotations

from flask import Flask
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
from app.clock import format_local


def init_templating(app: Flask) -> None:
    app.jinja_env.filters["local_time"] = format_local
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
