"""API v1: resumable uploads of film and video sources, and the processing status of a work."""

from __future__ import annotations

from flask import request
from flask_login import current_user

from app.api import bp
from app.api.helpers import json_body, login_required_api, require_fields
from app.media import transcodes, uploads
from app.works import services as svc


@bp.post("/works/<int:id>/uploads")
@login_required_api
def create_upload(id: int):
    data = json_body()
    require_fields(data, "filename", "size", "content_type")
    session = uploads.create_upload(
        id, current_user, filename=data["filename"], size=data["size"], content_type=data["content_type"]
    )
    return {
        "upload_id": session.id,
        "part_size": session.part_size,
        "parts": uploads.part_targets(session),
    }, 201


@bp.get("/uploads/<upload_id>")
@login_required_api
def get_upload(upload_id: str):
    """Which parts arrived, and where each part goes: what a client needs to resume."""
    return uploads.upload_state(uploads.get_upload_session(upload_id, current_user))


@bp.put("/uploads/<upload_id>/parts/<int:number>")
@login_required_api
def put_upload_part(upload_id: str, number: int):
    """One part, streamed into storage in constant memory (local storage; S3 takes them itself)."""
    session = uploads.get_upload_session(upload_id, current_user)
    etag = uploads.put_part(session, number, request.stream)
    response = {"number": number, "etag": etag}
    return response, 200, {"ETag": f'"{etag}"'}


@bp.post("/uploads/<upload_id>/complete")
@login_required_api
def complete_upload(upload_id: str):
    data = json_body()
    session = uploads.get_upload_session(upload_id, current_user)
    work = uploads.complete_upload(session, current_user, data.get("parts"))
    return {"work": svc.work_to_dict(work, current_user)}, 202


@bp.get("/works/<int:id>/status")
@login_required_api
def work_status(id: int):
    return transcodes.work_status(id, current_user)
