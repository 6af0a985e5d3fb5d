"""The request id (and, in the worker, the job id) that every log line of the moment carries.

Context variables rather than ``flask.g``: the media worker runs jobs outside any request, and
gunicorn's threads each see their own value.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

REQUEST_ID_HEADER = "X-Request-ID"
# What an incoming X-Request-ID may look like to be kept: short, and nothing a log reader or a
# log shipper could mistake for structure (no spaces, quotes, newlines or control characters).
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)
job_id_var: ContextVar[str | None] = ContextVar("job_id", default=None)


def new_request_id() -> str:
    return uuid.uuid4().hex


def sane_request_id(value: object) -> str | None:
    """`value` when it is a sane token, else None: outside input never reaches a log as is."""
    if isinstance(value, str) and _SANE_REQUEST_ID.fullmatch(value):
        return value
    return None


def request_id_from_header(value: str | None) -> str:
    """The caller's id when it is a sane token (a proxy's or a client's), else a fresh one."""
    return sane_request_id(value) or new_request_id()


def current_request_id() -> str | None:
    return request_id_var.get()


@contextmanager
def bound(*, request_id: str | None, job_id: str | None = None) -> Iterator[None]:
    """Log lines inside the block carry `request_id` (and `job_id`)."""
    request_token = request_id_var.set(request_id)
    job_token = job_id_var.set(job_id)
    try:
        yield
    finally:
        job_id_var.reset(job_token)
        request_id_var.reset(request_token)
