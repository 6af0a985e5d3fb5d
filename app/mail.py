"""Outgoing mail behind one small interface, chosen by MAIL_BACKEND.

``log`` (the default, what ``make run`` uses) writes the whole mail to the log at INFO, so a
local run needs no mail server and the password-reset link can be copied from the console.
``smtp`` sends through smtplib to SMTP_HOST:SMTP_PORT, with STARTTLS when SMTP_STARTTLS is on
(the default) and a log-in when SMTP_USER is set. Credentials come from the environment only.
"""

from __future__ import annotations

import logging
import smtplib
from email.message import EmailMessage
from typing import Protocol

from flask import Flask, current_app

log = logging.getLogger(__name__)


class MailError(Exception):
    """The mail could not be handed to the mail server."""


class Mailer(Protocol):
    def send(self, message: EmailMessage) -> None: ...


def build_message(to: str, subject: str, body: str, sender: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message.set_content(body)
    return message


class LogMailer:
    """Writes each mail, headers and body, to the log instead of sending it."""

    def send(self, message: EmailMessage) -> None:
        log.info("mail (MAIL_BACKEND=log, not sent):\n%s", message.as_string())


class SmtpMailer:
    def __init__(
        self,
        host: str,
        port: int,
        *,
        user: str | None = None,
        password: str | None = None,
        starttls: bool = True,
        timeout: float = 10,
    ) -> None:
        self.host = host
        self.port = port
        self.user = user
        self.password = password
        self.starttls = starttls
        self.timeout = timeout

    def send(self, message: EmailMessage) -> None:
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
                if self.starttls:
                    smtp.starttls()
                if self.user:
                    smtp.login(self.user, self.password or "")
                smtp.send_message(message)
        except (OSError, smtplib.SMTPException) as exc:
            raise MailError(f"could not send mail through {self.host}:{self.port}: {exc}") from exc


def make_mailer(app: Flask) -> Mailer:
    backend = app.config["MAIL_BACKEND"]
    if backend == "log":
        return LogMailer()
    if backend == "smtp":
        return SmtpMailer(
            app.config["SMTP_HOST"],
            app.config["SMTP_PORT"],
            user=app.config.get("SMTP_USER"),
            password=app.config.get("SMTP_PASSWORD"),
            starttls=app.config["SMTP_STARTTLS"],
            timeout=app.config["SMTP_TIMEOUT"],
        )
    raise RuntimeError(f"MAIL_BACKEND must be 'log' or 'smtp', not {backend!r}")


def init_mail(app: Flask) -> None:
    # Built at start-up, so a misspelt MAIL_BACKEND stops the app instead of the first mail.
    app.extensions["mailer"] = make_mailer(app)


def send_mail(to: str, subject: str, body: str) -> None:
    """Send one plain-text mail with the configured backend; MailError when it cannot."""
    current_app.extensions["mailer"].send(build_message(to, subject, body, current_app.config["MAIL_FROM"]))
