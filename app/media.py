"""Serves LocalStorage files with HTTP Range support (206), so video seeking works."""

from __future__ import annotations

import mimetypes

from flask import Blueprint, abort, send_file

from app.storage import LocalStorage, get_storage

bp = Blueprint("media", __name__)


@bp.get("/media/<path:key>")
def serve(key: str):
    storage = get_storage()
    if not isinstance(storage, LocalStorage):
        abort(404)
    try:
        path = storage.path(key)
    except ValueError:
        abort(404)
    if not path.is_file():
        abort(404)
    mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    response = send_file(path, mimetype=mime, conditional=True, max_age=3600)
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
