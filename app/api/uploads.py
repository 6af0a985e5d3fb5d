"""API v1: resumable uploads of film and video sources, and the processing status of a work."""

from __future__ import annotations

from typing import Any

from flask import request
from flask_login import current_user

from app.api import bp
from app.api.docs import answers
from app.api.helpers import login_required_api
from app.api.parsing import body
from app.api.schemas import (
    CompleteUploadBody,
    PartStored,
    UploadBody,
    UploadOpened,
    UploadState,
    WorkAnswer,
    WorkStatusAnswer,
)
from app.engagement.work_lists import work_dict
from app.media import transcodes, uploads


@bp.post("/works/<int:id>/uploads")
@answers(201, UploadOpened, refusing=(400, 401, 404, 409, 413, 415, 422), signed_in=True)
@login_required_api
@body(UploadBody)
def create_upload(data: dict[str, Any], id: int):
    """Open a resumable upload of a film's or video's source (its collective); parts go to presigned
    bucket URLs (S3) or to PUT /uploads/{upload_id}/parts/{number}"""
    session = uploads.create_upload(
        id, current_user, filename=data["filename"], size=data["size"], content_type=data["content_type"]
    )
    return {
        "upload_id": session.id,
        "part_size": session.part_size,
        "parts": uploads.part_targets(session),
    }, 201


@bp.get("/uploads/<upload_id>")
@answers(200, UploadState, refusing=(401, 404), signed_in=True)
@login_required_api
def get_upload(upload_id: str):
    """An upload's state for resuming: the parts received and where every part goes"""
    return uploads.upload_state(uploads.get_upload_session(upload_id, current_user))


@bp.put("/uploads/<upload_id>/parts/<int:number>")
@answers(200, PartStored, refusing=(400, 401, 404, 409, 413, 507), signed_in=True)
@bp.doc(
    requestBody={
        "required": True,
        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
    }
)
@login_required_api
def put_upload_part(upload_id: str, number: int):
    """One part of an upload (local storage): the raw bytes; sending it again replaces it

    Streamed into storage in constant memory (S3 takes the parts itself).
    """
    session = uploads.get_upload_session(upload_id, current_user)
    etag = uploads.put_part(session, number, request.stream)
    response = {"number": number, "etag": etag}
    return response, 200, {"ETag": f'"{etag}"'}


@bp.post("/uploads/<upload_id>/complete")
@answers(202, WorkAnswer, refusing=(400, 401, 404, 409, 415, 422, 507), signed_in=True)
@login_required_api
@body(CompleteUploadBody)
def complete_upload(data: dict[str, Any], upload_id: str):
    """Complete an upload: the type is sniffed from the bytes, the work goes to processing and one
    transcode job is queued"""
    session = uploads.get_upload_session(upload_id, current_user)
    work = uploads.complete_upload(session, current_user, data["parts"])
    return {"work": work_dict(work, current_user)}, 202


@bp.delete("/uploads/<upload_id>")
@answers(204, refusing=(401, 404, 409), signed_in=True)
@login_required_api
def cancel_upload(upload_id: str):
    """Cancel an unfinished upload: its parts are dropped and the work is free again (back to a
    draft, or to its rejection); cancelling again changes nothing, a completed upload is 409"""
    uploads.cancel_upload(uploads.get_upload_session(upload_id, current_user))
    return "", 204


@bp.get("/works/<int:id>/status")
@answers(200, WorkStatusAnswer, refusing=(401, 404), signed_in=True)
@login_required_api
def work_status(id: int):
    """Media processing status of a work (its collective, moderators)"""
    return transcodes.work_status(id, current_user)
