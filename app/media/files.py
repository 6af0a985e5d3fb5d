"""Serves LocalStorage files with HTTP Range support (206), so video seeking works.

A file under ``works/<id>/`` is served only to whom may see that work (published: everyone;
otherwise its collective, moderators in scope and admins), and to the others it is 404 like a
missing file; badges under ``collectives/`` are public. Any other key is 404. Keys holding
unpublished material also carry 128 random bits (app/media/keys.py, app/works/services.py),
which is what protects them where this route is not in the way (S3_PUBLIC_BASE_URL, a CDN).
"""

from __future__ import annotations

from flask import abort, send_file
from flask_login import current_user

from app.errors import NotFound
from app.ids import parse_id
from app.media import bp
from app.models import WorkStatus
from app.storage import LocalStorage, content_type_for, get_storage
from app.works.services import get_visible_work

PUBLIC_PREFIXES = ("collectives/",)


def _published(key: str) -> bool | None:
    """For a work's file: whether the work is published (None when the viewer may not see it)."""
    _works, _slash, rest = key.partition("/")
    work_id = parse_id(rest.partition("/")[0])
    if work_id is None or not rest.partition("/")[2]:
        return None
    try:
        work = get_visible_work(work_id, current_user, media=False)
    except NotFound:
        return None
    return work.status == WorkStatus.PUBLISHED


@bp.get("/media/<path:key>")
def serve(key: str):
    storage = get_storage()
    if not isinstance(storage, LocalStorage):
        abort(404)
    if key.startswith("works/"):
        published = _published(key)
        if published is None:
            abort(404)
    elif key.startswith(PUBLIC_PREFIXES):
        published = True
    else:
        abort(404)
    try:
        path = storage.path(key)
    except ValueError:
        abort(404)
    if not path.is_file():
        abort(404)
    response = send_file(path, mimetype=content_type_for(key), conditional=True, max_age=3600)
    if not published:
        # Shared caches must not keep what only the work's collective and moderators may see.
        response.cache_control.public = False
        response.cache_control.private = True
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
