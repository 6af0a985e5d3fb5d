"""In-app notifications: what happened to a collective's works and to people's comments."""

from flask import Blueprint

bp = Blueprint("notifications", __name__)

from app.notifications import routes  # noqa: E402,F401
