"""WSGI entry point: `gunicorn wsgi:app` (APP_ENV defaults to production)."""

from app import create_app

app = create_app()
