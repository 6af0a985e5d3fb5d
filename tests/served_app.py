"""The app a test serves from real gunicorn processes: `gunicorn "tests.served_app:served_app()"`.

Test apps are configured in code (a temp SQLite file or a scratch PostgreSQL database, their own
Redis prefix, queue and bucket), so the settings travel to the server process as JSON in
``WMCWM_SERVED_CONFIG``, the way tests/media_worker_process.py passes them to a media worker.
"""

from __future__ import annotations

import json
import os

from app import create_app


def served_app():
    return create_app("testing", **json.loads(os.environ["WMCWM_SERVED_CONFIG"]))
