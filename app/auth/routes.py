"""Sign-up, log-in and log-out pages: parse the form, call the account services, render."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import login_user
from flask_wtf import FlaskForm

from app.auth import bp, password_reset, sessions, verification
from app.auth.forms import ForgotPasswordForm, LoginForm, RegisterForm, ResetPasswordForm
from app.auth.limits import login_limits, password_reset_limits, register_limits
from app.auth.services import authenticate, register_user
from app.clients import client_ip
from app.errors import ServiceError, ValidationFailed
from app.models import User
from app.public_urls import public_url_for


def safe_next_url(target: str | None) -> str | None:
    """`target` when it is a path on this site, else None: `next` must never send people away.

    Browsers read a backslash as a slash and drop tabs and newlines, so "/\\evil.example" and
    "/\\t/evil.example" would leave the site just like "//evil.example"; all are refused.
    """
    if not target or not target.startswith("/") or target.startswith("//"):
        return None
    if any(ch == "\\" or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target


def start_session(user: User, *, remember: bool = False) -> None:
    """Log `user` in on a brand-new session, opened on the server (app/auth/sessions.py).

    Whatever the browser carried before (a session someone may have planted, its CSRF token, a
    remember-me cookie of an earlier log-in) is thrown away first; the signed cookie that comes
    back shares nothing with it, and the next page gets a new CSRF token."""
    sessions.replace_remembered_session()
    session.clear()
    sessions.open_session(user, remember=remember, user_agent=request.user_agent.string)
    login_user(user, remember=remember, duration=sessions.remember_duration())


def _show_service_error(form: FlaskForm, exc: ServiceError) -> None:
    """Put a service refusal next to the fields it is about, or above the form."""
    fields = exc.fields if isinstance(exc, ValidationFailed) else {}
    placed = False
    for name, message in fields.items():
        field = getattr(form, name, None)
        if field is not None:
            field.errors = [*field.errors, message]
            placed = True
    if not placed:
        form.form_errors.append(exc.message)


@bp.route("/register", methods=["GET", "POST"])
@register_limits
def register():
    form = RegisterForm()
    status = 200
    email_taken = False
    if form.validate_on_submit():
        try:
            user = register_user(form.email.data, form.password.data, form.display_name.data, client_ip())
        except ServiceError as exc:
            email_taken = exc.code == "email_taken"
            if email_taken:
                form.email.errors = [*form.email.errors, exc.message]
            else:
                _show_service_error(form, exc)
            status = exc.status
        else:
            start_session(user)
            verification.send_link_after_sign_up(user)
            flash(_("注册成功，欢迎你，%(name)s！", name=user.display_name), "success")
            if verification.needs_verification(user):
                flash(
                    _("我们已向 %(email)s 发送确认邮件，打开其中的链接后即可点赞和评论。", email=user.email),
                    "info",
                )
            return redirect(url_for("works.index"))
    elif form.is_submitted():
        status = 422
    return render_template("auth/register.html", form=form, email_taken=email_taken), status


@bp.route("/login", methods=["GET", "POST"])
@login_limits
def login():
    form = LoginForm()
    next_url = safe_next_url(request.args.get("next"))
    status = 200
    if form.validate_on_submit():
        try:
            user = authenticate(form.email.data, form.password.data)
        except ServiceError as exc:  # a banned account: say so rather than "wrong password"
            form.form_errors.append(exc.message)
            status = exc.status
        else:
            if user is not None:
                start_session(user, remember=form.remember.data)
                flash(_("欢迎回来，%(name)s！", name=user.display_name), "success")
                return redirect(next_url or url_for("works.index"))
            form.form_errors.append(_("邮箱或密码不正确。"))
            status = 401
    elif form.is_submitted():
        status = 422
    action = url_for("auth.login", next=next_url) if next_url else url_for("auth.login")
    return render_template("auth/login.html", form=form, action=action), status


@bp.post("/logout")
def logout():
    # Ends this browser's login sessions on the server, so a copy of either cookie taken before
    # now opens nothing, and deletes both cookies here.
    sessions.end_this_browser()
    flash(_("您已退出登录。"), "info")
    return sessions.forget_cookies(redirect(url_for("works.index")))


@bp.get("/verify-email/<token>")
def verify_email(token: str):
    """The link in the confirmation mail: confirms the address it was sent to. Signs nobody in."""
    try:
        user = verification.confirm(token)
    except ServiceError as exc:
        return render_template("auth/verify_email.html", confirmed=False, message=exc.message), exc.status
    return render_template("auth/verify_email.html", confirmed=True, email=user.email)


@bp.route("/forgot-password", methods=["GET", "POST"])
@password_reset_limits
def forgot_password():
    form = ForgotPasswordForm()
    status = 200
    sent = False
    if form.validate_on_submit():
        password_reset.request_reset(
            form.email.data, lambda token: public_url_for("auth.reset_password", token=token)
        )
        sent = True
    elif form.is_submitted():
        status = 422
    minutes = current_app.config["PASSWORD_RESET_MINUTES"]
    return render_template("auth/forgot_password.html", form=form, sent=sent, minutes=minutes), status


@bp.route("/reset-password/<token>", methods=["GET", "POST"])
def reset_password(token: str):
    try:
        user = password_reset.user_for_token(token)
    except ServiceError as exc:
        return render_template("auth/reset_password.html", form=None, message=exc.message), exc.status
    form = ResetPasswordForm()
    status = 200
    if form.validate_on_submit():
        try:
            password_reset.reset_password(token, form.password.data)
        except ServiceError as exc:
            _show_service_error(form, exc)
            status = exc.status
        else:
            # Whoever was signed in in this browser is signed out: the new password is the key.
            sessions.end_this_browser()
            flash(_("密码已重设，请用新密码登录。"), "success")
            return sessions.forget_cookies(redirect(url_for("auth.login")))
    elif form.is_submitted():
        status = 422
    return render_template("auth/reset_password.html", form=form, email=user.email), status
