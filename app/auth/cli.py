"""`flask users create --email E --password P --role R [--collective N --industry I --province P]`."""

from __future__ import annotations

import click
import sqlalchemy as sa
from flask.cli import AppGroup

from app.auth.services import AccountError, create_account
from app.errors import ServiceError
from app.extensions import db
from app.models import Role, User

users_cli = AppGroup("users", help="管理账号 / manage accounts")


@users_cli.command("create")
@click.option("--email", required=True, help="登录邮箱 / e-mail used to log in")
@click.option("--password", required=True, help="密码（至少 8 位，含字母和数字）/ password")
@click.option("--role", required=True, type=click.Choice([r.value for r in Role]), help="角色 / role")
@click.option("--display-name", default=None, help="昵称（默认取邮箱 @ 前的部分）/ display name")
@click.option("--collective", "collective_name", default=None, help="所属集体（不存在则创建）/ collective")
@click.option("--industry", default=None, help="新建集体的行业 / industry of a new collective")
@click.option(
    "--province",
    default=None,
    help="集体所在省份；审核员的负责省份（不填为全国）/ collective's province; moderator's scope",
)
def create(
    email: str,
    password: str,
    role: str,
    display_name: str | None,
    collective_name: str | None,
    industry: str | None,
    province: str | None,
) -> None:
    """Create an account; a named collective is created when absent."""
    try:
        user, collective_created = create_account(
            email=email,
            password=password,
            role=role,
            display_name=display_name,
            collective_name=collective_name,
            industry=industry,
            province=province,
        )
    except ServiceError as exc:
        if exc.code == "email_taken":
            raise click.ClickException(f"该邮箱已有账号，未做任何改动：{email.strip()}") from exc
        raise click.ClickException(exc.message) from exc
    except AccountError as exc:
        raise click.ClickException(str(exc)) from exc

    collective = user.collective
    if collective is not None:
        verb = "已创建集体" if collective_created else "使用已有集体"
        where = f"{collective.industry} · {collective.province}"
        click.echo(f"{verb} #{collective.id}：{collective.name}（{where}）")
        if not collective_created:
            # An existing collective is reused as it is; say so when the options asked otherwise.
            for given, actual, label in (
                (industry, collective.industry, "行业"),
                (province, collective.province, "省份"),
            ):
                if given and given != actual:
                    click.echo(f"注意：集体已存在，其{label}仍为“{actual}”，未改为“{given}”。", err=True)
    who = f"{user.email}（{user.display_name}）"
    click.echo(f"已创建账号 #{user.id}：{who}，角色 {user.role.value}{_scope(user)}")


def _scope(user: User) -> str:
    if user.role == Role.MODERATOR:
        return f"，负责省份 {user.province}" if user.province else "，全国审核员"
    return ""


@users_cli.command("list")
def list_users() -> None:
    """List every account: id, e-mail, role, scope, collective."""
    users = db.session.scalars(sa.select(User).order_by(User.id))
    for user in users:
        collective = user.collective.name if user.collective else "-"
        scope = user.province or ("全国" if user.role == Role.MODERATOR else "-")
        banned = "  [已停用]" if user.banned else ""
        click.echo(f"{user.id}\t{user.email}\t{user.role.value}\t{scope}\t{collective}{banned}")
