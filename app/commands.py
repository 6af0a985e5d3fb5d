"""Command-line tools: `flask users …`, `flask demo load`, `flask counters …`, `flask moderation …`,
`flask search rebuild`, `flask schedule …`, `flask media …`, `flask storage init`."""

from __future__ import annotations

from flask import Flask

from app.auth.cli import users_cli
from app.demo.cli import demo_cli
from app.engagement.cli import counters_cli
from app.media.cli import media_cli, storage_cli
from app.moderation.cli import moderation_cli
from app.schedule import schedule_cli
from app.search.cli import search_cli


def init_commands(app: Flask) -> None:
    app.cli.add_command(users_cli)
    app.cli.add_command(demo_cli)
    app.cli.add_command(counters_cli)
    app.cli.add_command(media_cli)
    app.cli.add_command(storage_cli)
    app.cli.add_command(moderation_cli)
    app.cli.add_command(search_cli)
    app.cli.add_command(schedule_cli)
