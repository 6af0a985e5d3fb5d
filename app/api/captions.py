"""API v1: a film's or video's captions, one WebVTT per language (app/media/captions.py)."""

from __future__ import annotations

from flask import request
from flask_login import current_user

from app.api import bp
from app.api.docs import answers
from app.api.helpers import login_required_api
from app.api.schemas import CaptionAnswer
from app.media import captions
from app.works.serialise import work_captions

_CAPTION_BODY = {
    "required": True,
    "content": {
        media_type: {"schema": {"type": "string", "maxLength": captions.MAX_BYTES}}
        # Every type the call takes: SRT goes by several names, and a file picked in a browser
        # often comes as text/plain.
        for media_type in captions.CONTENT_TYPES
    },
}


@bp.put("/works/<int:id>/captions/<lang>")
@answers(200, CaptionAnswer, refusing=(400, 401, 403, 404, 409, 413, 415, 422), signed_in=True)
@bp.doc(
    requestBody=_CAPTION_BODY,
    parameters=[{"in": "path", "name": "lang", "schema": {"type": "string", "enum": ["zh-CN", "en"]}}],
)
@login_required_api
def put_caption(id: int, lang: str):
    """Add or replace a film's or video's captions in one language (its collective)

    The body is the file itself, SRT or WebVTT, at most 1 MB, UTF-8 (with or without BOM) or
    GB18030. It is checked and stored as WebVTT with its cues as plain text; a file that cannot
    be used is 422 invalid_caption, its message naming the line (also in error.fields.line).
    A published work goes back to review.
    """
    captions.parse_lang(lang)
    captions.check_content_type(request.content_type)
    if (request.content_length or 0) > captions.MAX_BYTES:
        raise captions.too_large()
    # One byte more than allowed is enough to know a body without a length is too large.
    data = request.stream.read(captions.MAX_BYTES + 1)
    caption = captions.put_caption(id, current_user, lang, data)
    answer = next(item for item in work_captions(caption.work) if item["lang"] == caption.lang.value)
    return {"caption": answer}


@bp.delete("/works/<int:id>/captions/<lang>")
@answers(204, refusing=(400, 401, 403, 404, 409), signed_in=True)
@bp.doc(parameters=[{"in": "path", "name": "lang", "schema": {"type": "string", "enum": ["zh-CN", "en"]}}])
@login_required_api
def delete_caption(id: int, lang: str):
    """Remove a film's or video's captions in one language (its collective); repeating it changes
    nothing. A published work goes back to review."""
    captions.delete_caption(id, current_user, lang)
    return "", 204
