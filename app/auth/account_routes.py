"""The account page: the e-mail address and its confirmation, the browsers and API tokens that
are signed in, and the ways to end them (one token, or everything everywhere)."""

from __future__ import annotations

from flask import flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from app.auth import bp, sessions, verification
from app.auth.limits import verification_mail_limits
from app.auth.services import live_tokens, revoke_token
from app.extensions import db
from app.mail import MailError


@bp.get("/account")
@login_required
def account():
    return render_template(
        "auth/account.html",
        verified=verification.is_verified(current_user),
        verification_required=verification.required(),
        browsers=sessions.live_sessions(current_user.id),
        this_browser=sessions.current_session_hash(),
        tokens=live_tokens(current_user.id),
    )


@bp.post("/account/verify-email")
@login_required
@verification_mail_limits
def resend_verification():
    if verification.is_verified(current_user):
        flash(_("你的邮箱已经验证过了。"), "info")
        return redirect(url_for("auth.account"))
    try:
        verification.send_link(current_user)
    except MailError:
        flash(_("确认邮件暂时发不出去，请稍后再试。"), "error")
    else:
        flash(_("确认邮件已发送到 %(email)s，请打开其中的链接。", email=current_user.email), "success")
    return redirect(url_for("auth.account"))


@bp.post("/account/tokens/<int:token_id>/revoke")
@login_required
def revoke_api_token(token_id: int):
    revoke_token(current_user.id, token_id)  # someone else's token: 404, as for none at all
    flash(_("令牌已撤销，使用它的程序需要重新登录。"), "success")
    return redirect(url_for("auth.account"))


@bp.post("/account/sign-out-everywhere")
@login_required
def sign_out_everywhere():
    """Every browser and every API token of the account is signed out, this one included."""
    browsers, tokens = sessions.end_everywhere(current_user.id)
    db.session.commit()
    sessions.end_this_browser()
    flash(_("已在所有设备上退出登录（%(b)d 个浏览器，%(t)d 个接口令牌）。", b=browsers, t=tokens), "success")
    return sessions.forget_cookies(redirect(url_for("works.index")))


@bp.app_template_global()
def needs_email_verification() -> bool:
    """Whether the signed-in reader must confirm the address before liking and commenting."""
    return verification.needs_verification(current_user)
