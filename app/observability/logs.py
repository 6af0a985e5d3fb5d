"""The root logger's one handler: one JSON object per line (LOG_FORMAT=json) or text for humans.

Every line has ``time`` (ISO 8601, UTC, milliseconds), ``level``, ``logger``, ``message`` and,
while a request or a job is being handled, ``request_id`` (and ``job_id`` in the media worker).
Access lines add ``method``, ``path``, ``route``, ``status``, ``duration_ms``, ``remote_addr``
and ``user_id`` (signed in only); any other ``extra={...}`` field listed in ``EXTRA_FIELDS``
is kept too. A traceback goes in ``exception``.

The request id is read when the line is formatted, which is when it is logged: handlers here
write synchronously, in the thread that logs.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any, TextIO

from app.observability.context import job_id_var, request_id_var

FORMATS = ("json", "text")
# Fields a log call may add with ``extra=``; anything else a library adds stays out.
EXTRA_FIELDS = ("method", "path", "route", "status", "duration_ms", "remote_addr", "user_id")
_HANDLER_MARK = "_wmcwm_handler"


def _timestamp(record: logging.LogRecord) -> str:
    moment = datetime.fromtimestamp(record.created, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line (newlines in messages are escaped by JSON)."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": _timestamp(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = request_id_var.get()
        if request_id:
            entry["request_id"] = request_id
        job_id = job_id_var.get()
        if job_id:
            entry["job_id"] = job_id
        for name in EXTRA_FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                entry[name] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """``time level logger [request_id] message`` for a person at a terminal."""

    def format(self, record: logging.LogRecord) -> str:
        ids = "/".join(value for value in (request_id_var.get(), job_id_var.get()) if value)
        # A path or a message with a newline in it must not forge a second log line.
        message = record.getMessage().replace("\r", "\\r").replace("\n", "\\n")
        line = f"{_timestamp(record)} {record.levelname} {record.name} [{ids or '-'}] {message}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def make_formatter(log_format: str) -> logging.Formatter:
    if log_format not in FORMATS:
        raise ValueError(f"LOG_FORMAT must be one of {', '.join(FORMATS)}, not {log_format!r}")
    return JsonFormatter() if log_format == "json" else TextFormatter()


def install_handler(
    log_format: str, level: str | int = "INFO", stream: TextIO | None = None
) -> logging.Handler:
    """Make the root logger write `log_format` lines to `stream` (stderr) at `level` and above.

    Idempotent: a handler installed earlier by this function is replaced, others are kept.
    """
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, _HANDLER_MARK, False):
            root.removeHandler(handler)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(make_formatter(log_format))
    setattr(handler, _HANDLER_MARK, True)
    root.addHandler(handler)
    root.setLevel(level if isinstance(level, int) else level.upper())
    return handler
