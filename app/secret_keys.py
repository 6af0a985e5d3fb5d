"""The keys the app signs with, and the retired ones it still accepts after a rotation.

``SECRET_KEY`` signs everything new: the session cookie, the remember-me cookie, CSRF tokens,
links in mails (password reset, e-mail verification), visitor ids, list cursors and the password
fingerprint in a login identity. ``SECRET_KEY_FALLBACKS`` (retired keys, oldest first) are only
ever checked against, so what was signed before a rotation keeps working while its key is listed:
nobody is signed out, and a reset link sent an hour ago still opens (docs/security.md, "Rotating
SECRET_KEY"). Every signer asks here, so a new one follows a rotation without knowing of it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from functools import lru_cache

from flask import current_app
from flask_login.utils import decode_cookie


def signing_keys() -> list[str | bytes]:
    """Oldest first and the current key last, as itsdangerous takes a list: it signs with the
    last and accepts a signature by any."""
    return [*(current_app.config.get("SECRET_KEY_FALLBACKS") or ()), current_app.secret_key]


def accepted_key_tags() -> list[str]:
    """The tags (``key_tag``) of the keys accepted now, the current key's last."""
    return [key_tag(key) for key in signing_keys()]


@lru_cache(maxsize=16)
def key_tag(key: str | bytes) -> str:
    """A short name for a key that reveals nothing of it: what a kept digest says it was made
    under, so that dropping a key from SECRET_KEY_FALLBACKS also ends what is kept under it."""
    raw = key.encode() if isinstance(key, str) else key
    return hashlib.sha256(b"secret key tag\n" + raw).hexdigest()[:12]


class CurrentSigningKeys:
    """``signing_keys()`` as the app has them at the moment it is read. Flask-WTF takes its key
    from one setting (``WTF_CSRF_SECRET_KEY``) and hands it to itsdangerous, which iterates
    anything that is not a single key: this keeps CSRF tokens on the same keys as the rest."""

    def __iter__(self) -> Iterator[str | bytes]:
        return iter(signing_keys())


def decode_remember_cookie(cookie: str) -> str | None:
    """The identity in Flask-Login's remember-me cookie, whichever accepted key signed it
    (Flask-Login itself checks SECRET_KEY only)."""
    for key in reversed(signing_keys()):
        identity = decode_cookie(cookie, key=key)
        if identity is not None:
            return identity
    return None
