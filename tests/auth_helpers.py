"""Helpers shared by the account tests: request isolation as in production, and the forms."""

from __future__ import annotations

from flask.testing import FlaskClient

from tests.conftest import PASSWORD, csrf_token

NEW_PASSWORD = "Wenming-2026"


def fresh_client(app) -> FlaskClient:
    """Another browser: its own cookies, nothing shared with `client`."""
    return app.test_client()


def signed_in_email(client) -> str | None:
    """Whose session the client holds, as GET /api/v1/me tells it (None when anonymous)."""
    response = client.get("/api/v1/me")
    return response.json["user"]["email"] if response.status_code == 200 else None


def register_form(client, **overrides):
    data = {
        "email": "Wang.Fang@Example.com",
        "display_name": "王芳",
        "password": NEW_PASSWORD,
        "confirm": NEW_PASSWORD,
        "csrf_token": csrf_token(client),
    }
    data.update(overrides)
    return client.post("/register", data=data)


def login_form(client, email, password=PASSWORD, *, next_url=None, **extra):
    url = "/login" if next_url is None else f"/login?next={next_url}"
    data = {"email": email, "password": password, "csrf_token": csrf_token(client), **extra}
    return client.post(url, data=data)
