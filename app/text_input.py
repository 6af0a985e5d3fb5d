"""Text a request brings that no database can store, refused where it enters.

Two kinds of character never come from a person typing, and each made a 500 of an ordinary
call:

- NUL (``\\x00``): PostgreSQL refuses it in every text column (a form field, a query filter);
- a lone UTF-16 surrogate: JSON can spell one (``"\\ud800"``) but UTF-8 cannot encode it, so the
  database driver, the password hash and the rate limiter's key all fail on it. Forms and query
  strings cannot carry one (their bytes decode with replacement characters).

The one rule, checked where a request's text enters: every query string and form (a request
hook, before any view reads them) and every JSON body the API parses (``check_json_text``, from
app/api/parsing.py). Refused with the fields named, never stored altered: the text is the
person's, and a client sending these has a bug to be told about.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from flask import Flask, request
from flask_babel import gettext as _

from app.errors import ServiceError, ValidationFailed

# Only to name a field that holds one, on the way out; finding them is ``unstorable``'s job.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def unstorable(text: str) -> bool:
    """Whether ``text`` holds a NUL or a lone surrogate. Fast on every request: a NUL is a C scan,
    ASCII text (most query strings) cannot hold a surrogate, and other text is encoded once,
    which fails on exactly the surrogates UTF-8 cannot carry (2.2 µs for a 1,000-character
    story, against 6.4 for a character-class regex)."""
    if "\x00" in text:
        return True
    if text.isascii():
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _named(name: str) -> str:
    return _UNSTORABLE.sub("?", name)


def _message(names: list[str]) -> str:
    return _("提交的内容含有无法保存的字符（空字符或不成对的代理字符）：%(names)s", names=", ".join(names))


def _refused(names: list[str]) -> ValidationFailed:
    """A body's refusal (a form's, a JSON object's), each field named."""
    return ValidationFailed(
        _message(names), code="invalid_characters", fields=dict.fromkeys(names, _("含有无法保存的字符"))
    )


def _unstorable(pairs: Iterable[tuple[str, str]]) -> list[str]:
    """The names among ``pairs`` whose name or value holds an unstorable character, each once."""
    found: dict[str, None] = {}
    for name, value in pairs:
        if unstorable(name) or unstorable(value):
            found[_named(name)] = None
    return list(found)


_FORMS = ("application/x-www-form-urlencoded", "multipart/form-data")


def refuse_unstorable_request() -> None:
    """Request hook: a query string or a page's form carrying NUL is refused before any view
    reads it. Not the API's bodies: it takes JSON only, and two of its calls read the raw body
    (an upload's part, a caption file), which reading it as a form here would consume."""
    # Read from the WSGI environ first: most requests (a like, a beacon, a page) carry neither a
    # query string nor a form, and this runs on every one of them.
    environ = request.environ
    if environ.get("QUERY_STRING"):
        names = _unstorable(request.args.items(multi=True))
        if names:
            raise ServiceError(_message(names), code="invalid_characters")
    form = environ.get("CONTENT_TYPE", "").lower().startswith(_FORMS)
    if form and request.method != "GET" and request.blueprint != "api":
        names = _unstorable(request.form.items(multi=True))
        if names:
            raise _refused(names)


def check_json_text(data: dict[str, Any]) -> None:
    """Refuse a JSON object whose text, anywhere in it (keys too), no database can store; the
    fields named are its top-level keys."""
    names = []
    for key, value in data.items():
        pending = [key, value]
        while pending:  # iterative: the body's depth is the client's choice
            item = pending.pop()
            if isinstance(item, str):
                if unstorable(item):
                    names.append(_named(key))
                    break
            elif isinstance(item, dict):
                pending.extend(item.keys())
                pending.extend(item.values())
            elif isinstance(item, list):
                pending.extend(item)
    if names:
        raise _refused(names)


def init_text_input(app: Flask) -> None:
    app.before_request(refuse_unstorable_request)
