"""Jinja globals and filters shared by every page."""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

from flask import Flask, appcontext_pushed, before_render_template, template_rendered
from flask_babel import get_locale, get_translations

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

# The translations of the template being rendered, looked up once per render. Flask-Babel's own
# callables look them up again for every string (the request's context, its locale, the domain's
# cache: about 18 µs on this machine, against 0.7 µs for the lookup itself), and a work page has
# 58 strings, the home page hundreds: 7–15 % of a render (docs/performance.md).
_render_translations: ContextVar[Any] = ContextVar("render_translations", default=None)


def _translations() -> Any:
    # Outside a render (none is remembered) or after a nested one ended: looked up as before.
    found = _render_translations.get()
    return found if found is not None else get_translations()


def _remember_translations(_sender: Any, **_: Any) -> None:
    _render_translations.set(get_translations())


def _forget_translations(_sender: Any, **_: Any) -> None:
    _render_translations.set(None)


def install_fast_gettext(app: Flask) -> None:
    """Replace Flask-Babel's template callables (after ``babel.init_app``) by ones reading the
    render's translations; the same newstyle gettext, so escaping and formatting are Jinja's."""
    app.jinja_env.install_gettext_callables(
        gettext=lambda s: _translations().ugettext(s),
        ngettext=lambda s, p, n: _translations().ungettext(s, p, n),
        newstyle=True,
        pgettext=lambda c, s: _translations().upgettext(c, s),
        npgettext=lambda c, s, p, n: _translations().unpgettext(c, s, p, n),
    )
    before_render_template.connect(_remember_translations, app, weak=False)
    template_rendered.connect(_forget_translations, app, weak=False)
    # A render that raised leaves its translations behind on this thread (gunicorn's threads
    # serve one request after another): every request, command or job starts without them.
    appcontext_pushed.connect(_forget_translations, app, weak=False)


def init_templating(app: Flask) -> None:
    install_fast_gettext(app)
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
