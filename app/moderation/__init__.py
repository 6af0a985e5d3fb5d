"""Review (approve, reject, 推报), comment moderation, reports, vote integrity, the audit log."""

from flask import Blueprint

bp = Blueprint("moderation", __name__)

from app.moderation import community_routes, routes  # noqa: E402,F401
