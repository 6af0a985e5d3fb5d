"""Stored files as rows see them: the URL a browser fetches one from, and writing files together
with the rows that point at them (both or neither)."""

from __future__ import annotations

from app.extensions import db
from app.storage import delete_quietly, get_storage


def media_url(key: str) -> str:
    """The URL a browser fetches a stored file from (local route, CDN or presigned S3)."""
    return get_storage().url(key)


def store_then_commit(files: list[tuple[str, bytes, str]]) -> None:
    """Write files, then commit the session; on any failure roll back and delete what was written.

    Nothing is left half-way: either the rows and the files exist, or neither does.
    """
    storage = get_storage()
    written: list[str] = []
    try:
        for key, data, mime in files:
            storage.put(key, data, mime)
            written.append(key)
        db.session.commit()
    except Exception:
        db.session.rollback()
        delete_quietly(written)
        raise
