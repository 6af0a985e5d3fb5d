"""WSGI entry point: `gunicorn wsgi:app` (APP_ENV defaults to production)."""

from app import create_app
from app.gc_safepoints import install

# gunicorn serves it from threads (gthread): on CPython 3.11 the collector must run at safe points.
app = install(create_app())
