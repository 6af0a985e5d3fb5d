"""Cyclic garbage collection at safe points, for threaded web workers on CPython 3.11.

Why: under bench/campaign.py, gunicorn's gthread workers died of SIGSEGV one to three times a
minute, each time on a different live object found freed. It happened with psycopg's C and
pure-Python implementations, with SQLAlchemy's C extensions off, with pyahocorasick out of the
comment path, on Debian's 3.11.2 and on 3.11.7. It did not happen with single-threaded workers,
on 3.12.1, or with this module (measurements in docs/decisions.md). Our reading: on 3.11 the
cyclic collector can start inside any allocation, in the middle of C code that holds raw
pointers into a dict or list; the finalizers it runs (SQLAlchemy returning a pooled connection,
psycopg closing one) do I/O and release the GIL, and another request thread changes a shared
cache meanwhile. From 3.12 on, the collector runs only between bytecodes (python/cpython#97920),
which is what this module does by hand on 3.11.

``install`` wraps the WSGI app so that the automatic collector is off while it serves and, after
each response is closed, the same generational rule runs from plain Python code:
collect the oldest generation whose count passed its threshold. Garbage is still collected at
the interpreter's usual pace; only the moment moves to one where no C code is interrupted.
"""

from __future__ import annotations

import gc
import sys
from collections.abc import Callable, Iterable

from werkzeug.wsgi import ClosingIterator

# 3.12 runs the collector only at safe points itself (python/cpython#97920).
NEEDED = sys.version_info < (3, 12)


def collect_if_due() -> int | None:
    """Collect the oldest generation past its threshold, as the automatic collector would.

    Returns the generation collected, or None when none was due.
    """
    counts = gc.get_count()
    thresholds = gc.get_threshold()
    for generation in (2, 1, 0):
        if thresholds[generation] and counts[generation] > thresholds[generation]:
            gc.collect(generation)
            return generation
    return None


class CollectAfterResponse:
    """WSGI middleware: the collector's work moved to after each response is sent and closed.

    The automatic collector is turned off when the first request arrives, not at import:
    ``flask`` commands import wsgi.py too (FLASK_APP=wsgi), and a command that serves no request
    (``flask schedule worker`` runs for days) must keep the interpreter's own collector. Objects
    alive by then (the app, its modules) are frozen out of the generations, so a full
    collection walks only what requests created.
    """

    def __init__(self, wsgi_app: Callable) -> None:
        self.wsgi_app = wsgi_app
        self.serving = False

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        if not self.serving:
            self.serving = True
            gc.freeze()
            gc.disable()
        return ClosingIterator(self.wsgi_app(environ, start_response), collect_if_due)


def install(app, *, needed: bool = NEEDED):
    """Wrap ``app`` so that, once it serves, garbage is collected after responses (see above).

    Called from wsgi.py, the entry point gunicorn serves from threads. ``needed`` is False from
    3.12 on, where the interpreter already collects at safe points.
    """
    if needed:
        app.wsgi_app = CollectAfterResponse(app.wsgi_app)
    return app
