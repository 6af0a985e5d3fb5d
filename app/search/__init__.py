"""Full-text search of published works (titles, summaries, story text, collective names)."""

from flask import Blueprint

bp = Blueprint("search", __name__)

from app.search import index, routes  # noqa: E402,F401  (index: the session hooks)
