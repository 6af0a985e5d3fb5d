"""Logs: one JSON object per line with the agreed fields, text for humans, and one access line
per request (none for probes and scrapes)."""

from __future__ import annotations

import io
import json
import logging
import re
import sys

import pytest
import sqlalchemy as sa

from app import create_app
from app.engagement.services import work_published
from app.extensions import db
from app.observability.context import bound
from app.observability.logs import JsonFormatter, TextFormatter, install_handler, make_formatter
from config import DevelopmentConfig, ProductionConfig, TestingConfig
from tests.builders_support import make_collective, make_work
from tests.observability_support import json_log
from tests.sign_in_support import bearer, sign_in

USER_TABLE = re.compile(r'(FROM|JOIN) "?user"?(\s|$)')
ISO_UTC = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")


def _record(message: str, *args, level: int = logging.INFO, exc_info=None, **extra) -> logging.LogRecord:
    record = logging.LogRecord("app.test", level, __file__, 1, message, args, exc_info)
    record.__dict__.update(extra)
    return record


def test_a_json_line_has_time_level_logger_and_message():
    line = json.loads(JsonFormatter().format(_record("点赞 %s 次", 3)))

    assert set(line) == {"time", "level", "logger", "message"}
    assert ISO_UTC.fullmatch(line["time"])
    assert (line["level"], line["logger"], line["message"]) == ("INFO", "app.test", "点赞 3 次")


def test_a_message_with_newlines_stays_one_json_line():
    text = JsonFormatter().format(_record('first\nsecond\r\n{"forged": true}'))

    assert "\n" not in text
    assert json.loads(text)["message"] == 'first\nsecond\r\n{"forged": true}'


def test_a_json_line_carries_the_request_and_job_ids_bound_when_it_is_logged():
    with bound(request_id="abc123", job_id="media-transcode-7"):
        line = json.loads(JsonFormatter().format(_record("inside")))

    assert (line["request_id"], line["job_id"]) == ("abc123", "media-transcode-7")


def test_a_traceback_goes_into_the_exception_field():
    try:
        raise ValueError("boom")
    except ValueError:
        record = _record("failed", level=logging.ERROR, exc_info=sys.exc_info())
    line = json.loads(JsonFormatter().format(record))

    assert line["level"] == "ERROR"
    assert "ValueError: boom" in line["exception"]


def test_only_the_agreed_extra_fields_are_kept():
    line = json.loads(JsonFormatter().format(_record("x", status=200, password="hunter2")))

    assert line["status"] == 200
    assert "password" not in line


def test_a_text_line_shows_the_request_id_and_cannot_be_split_by_a_newline():
    with bound(request_id="abc123"):
        text = TextFormatter().format(_record("GET /a\nFAKE line"))

    assert "\n" not in text
    assert "[abc123]" in text and "GET /a\\nFAKE line" in text


def test_an_unknown_log_format_is_refused_by_name():
    with pytest.raises(ValueError, match="LOG_FORMAT"):
        make_formatter("xml")


def test_production_logs_json_and_development_and_tests_log_text_by_default():
    # The classes read the environment when config.py is imported; LOG_FORMAT is unset in tests.
    assert (ProductionConfig.LOG_FORMAT, DevelopmentConfig.LOG_FORMAT, TestingConfig.LOG_FORMAT) == (
        "json",
        "text",
        "text",
    )


def test_installing_the_handler_again_replaces_it_rather_than_doubling_every_line():
    root = logging.getLogger()
    before, level = list(root.handlers), root.level
    first, second = io.StringIO(), io.StringIO()
    try:
        install_handler("json", stream=first)
        install_handler("json", stream=second)
        logging.getLogger("app.test").warning("once")
    finally:
        for handler in list(root.handlers):
            if handler not in before:
                root.removeHandler(handler)
        root.setLevel(level)

    assert first.getvalue() == ""
    assert [json.loads(line)["message"] for line in second.getvalue().splitlines()] == ["once"]


def test_a_deployed_app_writes_each_line_once_and_as_json(capsys, tmp_path):
    root = logging.getLogger()
    before, level = list(root.handlers), root.level
    try:
        database = f"sqlite:///{tmp_path / 'app.db'}"
        app = create_app(
            "development", SECRET_KEY="k" * 64, SQLALCHEMY_DATABASE_URI=database, LOG_FORMAT="json"
        )
        app.logger.warning("written once")
    finally:
        for handler in list(root.handlers):
            if handler not in before:
                root.removeHandler(handler)
        root.setLevel(level)

    lines = [line for line in capsys.readouterr().err.splitlines() if "written once" in line]
    assert [json.loads(line)["message"] for line in lines] == ["written once"]


# --- access lines ------------------------------------------------------------------------------


def _access(lines: list[dict]) -> list[dict]:
    return [line for line in lines if line["logger"] == "app.access"]


def test_each_request_writes_one_access_line_with_its_fields(client):
    with json_log() as lines:
        response = client.get("/api/v1/works/999999?secret=not-logged", headers={"X-Request-ID": "req-1"})

    (line,) = _access(lines)
    assert line["level"] == "INFO"
    assert line["request_id"] == "req-1" == response.headers["X-Request-ID"]
    assert (line["method"], line["path"], line["status"]) == ("GET", "/api/v1/works/999999", 404)
    assert line["route"] == "/api/v1/works/<int:id>"
    assert line["remote_addr"] == "127.0.0.1"
    assert isinstance(line["duration_ms"], float) and line["duration_ms"] >= 0
    assert "user_id" not in line
    assert "not-logged" not in json.dumps(line)


def test_a_password_reset_links_token_is_not_written_to_the_access_line(client):
    with json_log() as lines:
        client.get("/reset-password/a-secret-reset-token")

    (line,) = _access(lines)
    assert line["path"] == "/reset-password/[redacted]"
    assert "a-secret-reset-token" not in json.dumps(lines)


def test_the_access_line_names_the_signed_in_user(client, make_user):
    user = make_user()
    sign_in(client, user)

    with json_log() as lines:
        client.get("/api/v1/me")

    (line,) = _access(lines)
    assert line["status"] == 200, line
    assert line["user_id"] == user.id


def test_the_access_line_has_the_clients_address_as_the_declared_proxies_give_it(app):
    proxied = create_app(
        "testing", PROXY_HOPS=1, REDIS_KEY_PREFIX=app.config["REDIS_KEY_PREFIX"]
    ).test_client()

    with json_log() as lines:
        proxied.get("/healthz/nope", headers={"X-Forwarded-For": "10.9.8.7, 203.0.113.9"})

    (line,) = _access(lines)
    assert line["remote_addr"] == "203.0.113.9"


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/metrics"])
def test_probes_and_scrapes_write_no_access_line(client, path):
    with json_log() as lines:
        client.get(path)

    assert _access(lines) == []


def test_static_files_are_logged_like_any_request(client):
    with json_log() as lines:
        client.get("/static/no-such-file.css")

    (line,) = _access(lines)
    assert line["route"] == "/static/<path:filename>" and line["status"] == 404


def test_the_access_line_of_a_request_that_committed_costs_no_query(app, client, make_user, open_campaign):
    work = make_work(make_collective("北京地铁青年文明号"), open_campaign)
    work_published(work)
    user = make_user()
    headers = bearer(user)
    user_reads: list[str] = []

    def count(conn, cursor, statement, *args):
        if statement.lstrip().upper().startswith("SELECT") and USER_TABLE.search(statement):
            user_reads.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", count)
    try:
        with json_log() as lines:
            response = client.put(f"/api/v1/works/{work.id}/like", headers=headers)
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", count)

    assert response.status_code == 200
    (line,) = _access(lines)
    assert line["user_id"] == user.id
    assert len(user_reads) == 1, user_reads  # the token's lookup; none after the like committed
