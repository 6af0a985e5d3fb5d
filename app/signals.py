"""What the capabilities announce, and how: blinker signals, sent after the commit.

A lower capability never imports a higher one (DESIGN.md "Layout"); when something happens that
a higher one cares about, it announces it here and the higher one subscribes (at app setup, in
its package's ``subscribe()``). docs/decisions.md ("Signals after the commit") has the reasons:

- Sent after the sender's commit, so a subscriber reads committed rows and writes in its own
  transaction.
- Sent with :func:`announce`: each subscriber runs in turn; one that raises is logged, its
  session rolled back, and the others still run. The sender's write stands.

Every signal's sender is the app (``current_app._get_current_object()``); the keyword arguments
are listed with each signal.
"""

from __future__ import annotations

import logging
from typing import Any

from blinker import Namespace, Signal
from flask import current_app

from app.extensions import db

log = logging.getLogger(__name__)

_signals = Namespace()

# works: ``work`` (its title, summary or body changed; app/works/services.py).
work_edited = _signals.signal("work-edited")
# moderation: ``work`` (approved: public and ranked; app/moderation/services.py).
work_published = _signals.signal("work-published")
# moderation and media: ``work`` (no longer public: taken down, app/moderation/services.py; or sent
# back to review by a caption change, app/media/captions.py). Engagement unranks it.
work_unpublished = _signals.signal("work-unpublished")
# engagement: ``comment``, ``replied_to`` (the id the person answered, or None). The comment is
# visible or, when the word filter held it, pending (app/engagement/comments.py).
comment_posted = _signals.signal("comment-posted")
# moderation: ``work``, ``comment`` (a held comment approved: now shown to everyone;
# app/moderation/comment_review.py).
comment_approved = _signals.signal("comment-approved")
# engagement and moderation: ``work``, ``comment_ids`` (comments no longer shown).
comments_hidden = _signals.signal("comments-hidden")
# wall: nothing (the featured wall's works, order or notes changed; app/wall/services.py).
wall_changed = _signals.signal("wall-changed")


def announce(signal: Signal, **kwargs: Any) -> None:
    """Call every subscriber of ``signal``; a failing one is logged and cannot undo the write the
    sender already committed, nor keep the others from running."""
    if not signal.receivers:
        return
    sender = current_app._get_current_object()
    for receiver in signal.receivers_for(sender):
        try:
            receiver(sender, **kwargs)
        except Exception:
            db.session.rollback()
            log.exception(
                "subscriber %s of %s failed", getattr(receiver, "__qualname__", receiver), signal.name
            )
