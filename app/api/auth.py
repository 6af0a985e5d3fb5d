"""API v1: auth."""

from __future__ import annotations

from app.api import bp  # noqa: F401
