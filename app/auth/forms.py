"""Sign-up and log-in forms. Field names are part of the page contract (the browser test uses them).

The account rules (valid e-mail, strong password, unique e-mail) are the services', so the API
enforces them too; the sign-up form asks the same functions early only so that every problem is
shown at once instead of one per submit.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, Length, ValidationError

from app.auth.services import normalize_email, password_problem
from app.errors import ValidationFailed
from app.field_limits import DISPLAY_NAME_MAX_LENGTH, EMAIL_MAX_LENGTH, PASSWORD_MAX_LENGTH


class RegisterForm(FlaskForm):
    email = EmailField(
        _l("邮箱"),
        validators=[
            DataRequired(message=_l("请填写邮箱。")),
            Length(max=EMAIL_MAX_LENGTH, message=_l("邮箱地址太长了。")),
        ],
    )
    display_name = StringField(
        _l("昵称"),
        description=_l("在点赞、评论旁显示，最多 %(n)d 个字。", n=DISPLAY_NAME_MAX_LENGTH),
        validators=[
            DataRequired(message=_l("请填写昵称。")),
            Length(
                max=DISPLAY_NAME_MAX_LENGTH,
                message=_l("昵称不能超过 %(n)d 个字符。", n=DISPLAY_NAME_MAX_LENGTH),
            ),
        ],
    )
    password = PasswordField(
        _l("密码"),
        description=_l("至少 8 位，需同时包含字母和数字。"),
        validators=[DataRequired(message=_l("请设置密码。"))],
    )
    confirm = PasswordField(
        _l("确认密码"),
        validators=[
            DataRequired(message=_l("请再输入一次密码。")),
            EqualTo("password", message=_l("两次输入的密码不一致。")),
        ],
    )

    def validate_email(self, field) -> None:
        try:
            normalize_email(field.data)
        except ValidationFailed as exc:
            raise ValidationError(exc.message) from exc

    def validate_password(self, field) -> None:
        problem = password_problem(field.data or "", (self.email.data or "").strip().lower())
        if problem:
            raise ValidationError(problem[1])


class LoginForm(FlaskForm):
    email = EmailField(
        _l("邮箱"),
        validators=[
            DataRequired(message=_l("请填写邮箱。")),
            Length(max=EMAIL_MAX_LENGTH, message=_l("邮箱地址太长了。")),
        ],
    )
    password = PasswordField(
        _l("密码"),
        validators=[
            DataRequired(message=_l("请填写密码。")),
            Length(max=PASSWORD_MAX_LENGTH, message=_l("邮箱或密码不正确。")),
        ],
    )
    remember = BooleanField(_l("记住我"))


class ForgotPasswordForm(FlaskForm):
    email = EmailField(
        _l("邮箱"),
        validators=[
            DataRequired(message=_l("请填写邮箱。")),
            Length(max=EMAIL_MAX_LENGTH, message=_l("邮箱地址太长了。")),
        ],
    )


class ResetPasswordForm(FlaskForm):
    password = PasswordField(
        _l("新密码"),
        description=_l("至少 8 位，需同时包含字母和数字。"),
        validators=[DataRequired(message=_l("请设置密码。"))],
    )
    confirm = PasswordField(
        _l("确认新密码"),
        validators=[
            DataRequired(message=_l("请再输入一次密码。")),
            EqualTo("password", message=_l("两次输入的密码不一致。")),
        ],
    )
