from flask import Blueprint

bp = Blueprint("works", __name__)

from app.works import routes, share_routes  # noqa: E402,F401
