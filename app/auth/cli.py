"""`flask users create --email E --password P --role R [--collective N --industry I --province P]`."""

from __future__ import annotations

from flask.cli import AppGroup

users_cli = AppGroup("users", help="管理账号 / manage accounts")
