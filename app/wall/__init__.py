"""The featured wall (优秀作品展示墙): curated works first, then the live rankings."""

from flask import Blueprint

bp = Blueprint("wall", __name__)

from app.wall import routes  # noqa: E402,F401
