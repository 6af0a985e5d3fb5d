"""What engagement does when a lower capability announces something (app/signals.py)."""

from __future__ import annotations

from typing import Any

from app import signals
from app.engagement import services


def subscribe() -> None:
    """Called by create_app. A work that stops being public (taken down by a moderator, or sent
    back to review by a change of its captions in app/media) leaves every ranking."""
    signals.work_unpublished.connect(_on_work_unpublished)


def _on_work_unpublished(sender: Any, *, work: Any) -> None:
    services.work_unpublished(work)
