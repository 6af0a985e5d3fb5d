"""Security headers on every response, cookies' flags, and secrets that production refuses."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from app import create_app
from app.models import User
from config import TestingConfig, cookie_secure
from tests.app_support import REDIS_URL
from tests.sign_in_support import login_form

TEMPLATES = Path(__file__).resolve().parent.parent / "app" / "templates"
STRONG_KEY = "k" * 16 + "0123456789abcdef0123"


def _csp(response) -> dict[str, list[str]]:
    policy = response.headers["Content-Security-Policy"]
    return {part.split()[0]: part.split()[1:] for part in policy.split(";") if part.strip()}


@pytest.mark.parametrize("path", ["/", "/login", "/api/v1/works", "/healthz", "/no-such-page"])
def test_every_response_carries_the_security_headers(client, path):
    response = client.get(path)
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "Content-Security-Policy" in response.headers


def test_the_policy_allows_scripts_only_from_the_site_itself(client):
    csp = _csp(client.get("/"))
    assert csp["script-src"] == ["'self'"]
    assert csp["style-src"] == ["'self'"]
    assert csp["object-src"] == ["'none'"]
    assert csp["base-uri"] == ["'self'"]
    assert csp["form-action"] == ["'self'"]
    assert csp["frame-ancestors"] == ["'none'"]
    assert not any("unsafe" in value for values in csp.values() for value in values)


def test_hls_playback_may_use_blob_urls_and_a_blob_worker(client):
    csp = _csp(client.get("/"))
    assert "blob:" in csp["media-src"]
    assert "blob:" in csp["worker-src"]


def test_with_s3_the_bucket_endpoint_and_the_cdn_may_serve_media_and_take_uploads(db_url, tmp_path):
    app = create_app(
        "testing",
        SQLALCHEMY_DATABASE_URI=db_url,
        REDIS_URL=REDIS_URL,
        STORAGE_BACKEND="s3",
        S3_ENDPOINT_URL="https://s3.internal.example:9000/",
        S3_PUBLIC_BASE_URL="https://cdn.example.cn/media",
    )
    csp = _csp(app.test_client().get("/healthz"))
    for directive in ("img-src", "media-src", "connect-src"):
        assert "https://s3.internal.example:9000" in csp[directive], directive
        assert "https://cdn.example.cn" in csp[directive], directive


def test_virtual_hosted_buckets_are_allowed_by_their_own_host_name(db_url):
    app = create_app(
        "testing",
        SQLALCHEMY_DATABASE_URI=db_url,
        REDIS_URL=REDIS_URL,
        STORAGE_BACKEND="s3",
        S3_ENDPOINT_URL="https://oss.example.com",
        S3_BUCKET="wenming",
        S3_ADDRESSING_STYLE="virtual",
    )
    csp = _csp(app.test_client().get("/healthz"))
    assert "https://wenming.oss.example.com" in csp["connect-src"]


def test_no_template_holds_inline_script_styles_or_event_handlers():
    problems = []
    for template in TEMPLATES.rglob("*.html"):
        text = template.read_text()
        for match in re.finditer(r"<script\b([^>]*)>(.*?)</script>", text, re.S):
            attributes, body = match.groups()
            executable = 'type="application/json"' not in attributes
            if executable and ("src=" not in attributes or body.strip()):
                problems.append(f"{template.name}: inline <script>")
        if re.search(r"<style\b", text) or re.search(r"\sstyle=", text):
            problems.append(f"{template.name}: inline style")
        if re.search(r"\son[a-z]+\s*=", text) or "javascript:" in text:
            problems.append(f"{template.name}: inline event handler")
    assert problems == []


def _production_app(db_url):
    return create_app(
        "production",
        SQLALCHEMY_DATABASE_URI=db_url,
        REDIS_URL=REDIS_URL,
        SECRET_KEY=STRONG_KEY,
        PUBLIC_BASE_URL="https://wenming.example.cn",
    )


def test_hsts_is_sent_only_over_https_in_production(db_url):
    app = _production_app(db_url)
    client = app.test_client()
    assert (
        "Strict-Transport-Security"
        not in client.get("/healthz", base_url="http://wenming.example.cn").headers
    )
    secure = client.get("/healthz", base_url="https://wenming.example.cn")
    assert secure.headers["Strict-Transport-Security"].startswith("max-age=")


def test_development_and_tests_send_no_hsts_even_over_https(client):
    assert "Strict-Transport-Security" not in client.get("/healthz", base_url="https://localhost").headers


# --- cookies ---------------------------------------------------------------------------------


def _set_cookies(response) -> dict[str, str]:
    return {header.split("=", 1)[0]: header for header in response.headers.getlist("Set-Cookie")}


def test_production_cookies_are_secure_httponly_and_samesite_lax(db_url):
    app = _production_app(db_url)
    for name in ("SESSION_COOKIE", "REMEMBER_COOKIE"):
        assert app.config[f"{name}_SECURE"] is True
        assert app.config[f"{name}_HTTPONLY"] is True
        assert app.config[f"{name}_SAMESITE"] == "Lax"


def test_cookie_secure_0_allows_a_plain_http_intranet_deployment(monkeypatch):
    monkeypatch.setenv("COOKIE_SECURE", "0")
    assert cookie_secure() is False
    monkeypatch.setenv("COOKIE_SECURE", "1")
    assert cookie_secure() is True
    monkeypatch.delenv("COOKIE_SECURE")
    assert cookie_secure() is True


def test_the_session_remember_and_language_cookies_are_httponly_and_lax(app, client, make_user):
    user = make_user()
    cookies = _set_cookies(login_form(client, user.email, remember="y"))
    cookies |= _set_cookies(client.get("/?lang=en"))
    for name in ("session", "remember_token", "lang"):
        assert "HttpOnly" in cookies[name], name
        assert "SameSite=Lax" in cookies[name], name


def test_the_language_cookie_is_secure_when_the_session_cookie_is(app, client):
    app.config["SESSION_COOKIE_SECURE"] = True
    cookie = _set_cookies(client.get("/?lang=en", base_url="https://localhost"))["lang"]
    assert "Secure" in cookie


# --- secrets ---------------------------------------------------------------------------------


def test_production_refuses_to_start_without_a_secret_key(db_url):
    with pytest.raises(RuntimeError, match="SECRET_KEY is not set"):
        create_app("production", SQLALCHEMY_DATABASE_URI=db_url, SECRET_KEY=None)


@pytest.mark.parametrize(
    "weak", [TestingConfig.SECRET_KEY, "changeme", "short-but-random-9f3a", "x" * 31], ids=str
)
def test_production_refuses_a_known_or_short_secret_key(db_url, weak):
    with pytest.raises(RuntimeError, match="too weak"):
        create_app("production", SQLALCHEMY_DATABASE_URI=db_url, SECRET_KEY=weak)


def test_production_refuses_a_weak_key_kept_as_a_fallback(db_url):
    with pytest.raises(RuntimeError, match="SECRET_KEY_FALLBACKS is too weak"):
        create_app(
            "production",
            SQLALCHEMY_DATABASE_URI=db_url,
            SECRET_KEY=STRONG_KEY,
            SECRET_KEY_FALLBACKS=["changeme"],
            PUBLIC_BASE_URL="https://wenming.example.cn",
        )


def test_production_starts_with_a_strong_key_kept_as_a_fallback(db_url):
    app = create_app(
        "production",
        SQLALCHEMY_DATABASE_URI=db_url,
        REDIS_URL=REDIS_URL,
        SECRET_KEY=STRONG_KEY,
        SECRET_KEY_FALLBACKS=["f" * 64],
        PUBLIC_BASE_URL="https://wenming.example.cn",
    )
    assert app.config["SECRET_KEY_FALLBACKS"] == ["f" * 64]


def test_production_starts_with_a_long_random_secret_key(db_url):
    app = _production_app(db_url)
    assert app.config["SECRET_KEY"] == STRONG_KEY


def test_production_hashes_new_passwords_with_scrypt(db_url):
    app = _production_app(db_url)
    with app.app_context():
        user = User(email="p@example.com", display_name="p")
        user.set_password("a long passphrase")
    assert user.password_hash.startswith("scrypt:")
    assert user.check_password("a long passphrase")
