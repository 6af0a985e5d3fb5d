"""Outgoing mail: the SMTP backend against a real SMTP server on loopback (aiosmtpd), the log
backend through the log record it writes."""

from __future__ import annotations

import logging
from email import message_from_bytes
from email.header import decode_header, make_header

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from app.mail import LogMailer, MailError, SmtpMailer, build_message, make_mailer, send_mail
from tests.web_process import free_port


class Inbox:
    """An aiosmtpd handler that keeps every mail it is given, and who logged in to send it."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], bytes]] = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content))
        return "250 OK"


@pytest.fixture
def smtp_server():
    inbox = Inbox()
    logins: list[tuple[str, str]] = []

    def authenticator(server, session, envelope, mechanism, auth_data):
        login, password = auth_data.login.decode(), auth_data.password.decode()
        logins.append((login, password))
        # handled=False: aiosmtpd then answers a refusal with 535 itself; with its default (True)
        # it would say nothing and the client would wait out its timeout.
        return AuthResult(success=(login, password) == ("mailer", "s3cret-Pass"), handled=False)

    controller = Controller(
        inbox,
        hostname="127.0.0.1",
        port=free_port(),
        authenticator=authenticator,
        auth_require_tls=False,
    )
    controller.start()
    try:
        yield controller, inbox, logins
    finally:
        controller.stop()


def _subject(raw: bytes) -> str:
    return str(make_header(decode_header(message_from_bytes(raw)["Subject"])))


def test_the_smtp_backend_delivers_the_whole_mail_to_a_real_server(smtp_server):
    controller, inbox, _logins = smtp_server
    mailer = SmtpMailer("127.0.0.1", controller.port, starttls=False)
    mailer.send(
        build_message(
            "wang@example.com", "重设您的密码", "链接：https://x.example/r/abc\n", "站点 <no-reply@x.example>"
        )
    )

    [(sender, recipients, raw)] = inbox.messages
    assert sender == "no-reply@x.example"
    assert recipients == ["wang@example.com"]
    assert _subject(raw) == "重设您的密码"
    body = message_from_bytes(raw).get_payload(decode=True).decode()
    assert "https://x.example/r/abc" in body


def test_the_smtp_backend_logs_in_with_the_configured_account(smtp_server):
    controller, inbox, logins = smtp_server
    mailer = SmtpMailer("127.0.0.1", controller.port, user="mailer", password="s3cret-Pass", starttls=False)
    mailer.send(build_message("li@example.com", "主题", "正文", "no-reply@x.example"))
    assert logins == [("mailer", "s3cret-Pass")]
    assert len(inbox.messages) == 1


def test_a_refused_login_is_a_mail_error_and_nothing_is_sent(smtp_server):
    controller, inbox, _logins = smtp_server
    mailer = SmtpMailer("127.0.0.1", controller.port, user="mailer", password="wrong", starttls=False)
    with pytest.raises(MailError):
        mailer.send(build_message("li@example.com", "主题", "正文", "no-reply@x.example"))
    assert inbox.messages == []


def test_an_smtp_server_that_does_not_answer_is_a_mail_error():
    mailer = SmtpMailer("127.0.0.1", free_port(), starttls=False, timeout=2)
    with pytest.raises(MailError):
        mailer.send(build_message("li@example.com", "主题", "正文", "no-reply@x.example"))


def test_the_app_sends_through_smtp_when_configured(app, smtp_server):
    controller, inbox, _logins = smtp_server
    app.config.update(
        MAIL_BACKEND="smtp", SMTP_HOST="127.0.0.1", SMTP_PORT=controller.port, SMTP_STARTTLS=False
    )
    app.extensions["mailer"] = make_mailer(app)
    send_mail("zhao@example.com", "测试", "你好")
    [(sender, recipients, _raw)] = inbox.messages
    assert recipients == ["zhao@example.com"]


def test_the_log_backend_writes_the_whole_mail_to_the_log(app, caplog):
    assert isinstance(app.extensions["mailer"], LogMailer)  # the default: MAIL_BACKEND=log
    with caplog.at_level(logging.INFO, logger="app.mail"):
        send_mail("zhao@example.com", "重设您的密码", "打开 https://x.example/reset/abc 设置新密码")
    [record] = [r for r in caplog.records if r.name == "app.mail"]
    assert record.levelno == logging.INFO
    text = record.getMessage()
    assert "To: zhao@example.com" in text
    assert "Subject:" in text
    raw = text.split("\n", 1)[1].encode()
    message = message_from_bytes(raw)
    assert "https://x.example/reset/abc" in message.get_payload(decode=True).decode()


def test_an_unknown_mail_backend_stops_the_app_at_start_up(app):
    app.config["MAIL_BACKEND"] = "carrier-pigeon"
    with pytest.raises(RuntimeError, match="MAIL_BACKEND"):
        make_mailer(app)
