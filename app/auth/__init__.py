from flask import Blueprint

bp = Blueprint("auth", __name__)

from app.auth import account_routes, routes, sessions  # noqa: E402,F401

bp.after_app_request(sessions.keep_signed_in_hint)
