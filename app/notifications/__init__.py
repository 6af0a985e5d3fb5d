"""In-app notifications: what happened to a collective's works and to people's comments."""

from flask import Blueprint

from app import signals

bp = Blueprint("notifications", __name__)

from app.notifications import routes, services  # noqa: E402,F401  (routes: registers the views)


def subscribe() -> None:
    """Listen to what lower capabilities announce (app/signals.py); called by create_app."""
    signals.comment_posted.connect(services.on_comment_posted)
