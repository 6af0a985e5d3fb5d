"""`flask demo load`: demo content for a fresh `make run` (filled in with the stories service)."""

from __future__ import annotations

import click
from flask.cli import AppGroup

demo_cli = AppGroup("demo", help="演示数据 / demo data")


@demo_cli.command("load")
@click.option("--if-empty", is_flag=True, help="Only when the database has no users yet.")
def load(if_empty: bool) -> None:
    click.echo("demo data: not written yet")
