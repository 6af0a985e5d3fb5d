"""API v1: catalog."""

from __future__ import annotations

from app.api import bp  # noqa: F401
