"""API v1: works."""

from __future__ import annotations

from app.api import bp  # noqa: F401
