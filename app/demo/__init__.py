"""`flask demo load [--if-empty]`: a campaign in full swing for a fresh `make run`.

What it holds (``content``), how it is written (``history``: two weeks replayed through the real
services, so counters, rankings, the search index and reconcile agree), and the micro-film and
micro-videos made by the media worker at first run (``videos``). The demo is optional and never
runs in production.
"""

from __future__ import annotations

import click
from flask import current_app


class DemoRefused(click.ClickException):
    """The demo was asked for where it must not run."""


def refuse_in_production() -> None:
    if current_app.config.get("ENV_NAME") == "production":
        raise DemoRefused(
            "演示数据不能在生产环境中加载（APP_ENV=production）。"
            " / The demo data never runs in production (APP_ENV=production)."
        )
