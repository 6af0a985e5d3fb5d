"""Sign-up, log-in and log-out pages."""

from __future__ import annotations

from flask import redirect, url_for

from app.auth import bp


@bp.route("/login", methods=["GET", "POST"])
def login():
    return "login"


@bp.route("/register", methods=["GET", "POST"])
def register():
    return "register"


@bp.post("/logout")
def logout():
    return redirect(url_for("works.index"))
