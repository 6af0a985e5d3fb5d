"""Links that leave the site: mails (password reset, e-mail confirmation), share cards, short
links and the QR codes on printed posters.

They are absolute and start with ``PUBLIC_BASE_URL``, never with the Host of the request that
caused them: a request for ``Host: evil.example`` must not get a password-reset link to
evil.example mailed to a member. Production refuses to start without the setting (config.py).
Development and tests may leave it unset; links then use the request's own host, which there is
127.0.0.1 or the test client's, and ``TRUSTED_HOSTS`` (when set) refuses any other.
"""

from __future__ import annotations

from typing import Any

from flask import current_app, request, url_for


def public_base_url() -> str:
    """Scheme and host (and any path prefix) that links leaving the site start with, no trailing /."""
    configured = (current_app.config.get("PUBLIC_BASE_URL") or "").strip()
    return (configured or request.url_root).rstrip("/")


def absolute_url(path_or_url: str) -> str:
    """An absolute URL on the public site for a site path; URLs already absolute (CDN, S3) pass."""
    if path_or_url.startswith(("http://", "https://")):
        return path_or_url
    # url_for() paths carry the mount point (SCRIPT_NAME), which PUBLIC_BASE_URL already names.
    root = request.script_root
    if root and path_or_url.startswith(root + "/"):
        path_or_url = path_or_url[len(root) :]
    return public_base_url() + "/" + path_or_url.lstrip("/")


def public_url_for(endpoint: str, **values: Any) -> str:
    return absolute_url(url_for(endpoint, **values))
