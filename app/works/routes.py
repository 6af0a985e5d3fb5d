"""Public pages: home, work, collective; collective members' story editor."""

from __future__ import annotations

from flask import render_template

from app.works import bp


@bp.get("/")
def index():
    return render_template("works/index.html", works=[])


@bp.get("/my/works")
def my_works():
    return render_template("works/index.html", works=[])


@bp.get("/admin/pending")
def admin_pending():
    return render_template("works/index.html", works=[])
