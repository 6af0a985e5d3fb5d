"""The application factory: a table of contents of the app."""

from __future__ import annotations

import os

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from app import notifications
from app.api import bp as api_bp
from app.auth import bp as auth_bp
from app.auth import services as auth_services  # noqa: F401  (registers the user loaders)
from app.commands import init_commands
from app.engagement import subscribers as engagement_subscribers
from app.errors import init_errorhandlers
from app.extensions import init_extensions
from app.health import bp as health_bp
from app.ids import refuse_impossible_ids
from app.mail import init_mail
from app.media import bp as media_bp
from app.moderation import bp as moderation_bp
from app.notifications import bp as notifications_bp
from app.observability import init_observability
from app.observability.metrics import bp as metrics_bp
from app.page_cache import init_page_cache
from app.pages import works as work_pages  # noqa: F401  (the works blueprint's public pages)
from app.pages.comments import bp as comments_bp
from app.pages.embeds import bp as embeds_bp
from app.search import bp as search_bp
from app.security_headers import init_security_headers
from app.templating import init_templating
from app.text_input import init_text_input
from app.wall import bp as wall_bp
from app.works import bp as works_bp
from config import CONFIGS


def create_app(config_name: str | None = None, **overrides) -> Flask:
    config_name = config_name or os.environ.get("APP_ENV", "production")
    config_class = CONFIGS[config_name]
    app = Flask(__name__, instance_relative_config=True)
    app.config.from_object(config_class)
    app.config.update(overrides)
    config_class.init_app(app)
    trust_proxies(app)

    # First registered, so it runs after every other after_request function and sees each cookie
    # they set (Flask runs them in reverse order).
    register_extensions(app)
    register_security_headers(app)
    register_blueprints(app)
    register_subscribers(app)
    register_errorhandlers(app)
    register_commands(app)
    register_template_helpers(app)
    configure_logging(app)
    return app


def trust_proxies(app: Flask) -> None:
    """Take the client's address and scheme from the PROXY_HOPS reverse proxies in front of us."""
    hops = app.config["PROXY_HOPS"]
    if hops:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)


def register_extensions(app: Flask) -> None:
    init_extensions(app)

    init_mail(app)


def register_security_headers(app: Flask) -> None:
    init_security_headers(app)


def register_blueprints(app: Flask) -> None:
    app.register_blueprint(health_bp)
    app.register_blueprint(metrics_bp)
    app.register_blueprint(media_bp)
    app.register_blueprint(auth_bp)
    app.register_blueprint(works_bp)
    app.register_blueprint(comments_bp)
    app.register_blueprint(embeds_bp)
    app.register_blueprint(moderation_bp)
    app.register_blueprint(wall_bp)
    app.register_blueprint(search_bp)
    app.register_blueprint(notifications_bp)
    app.register_blueprint(api_bp, url_prefix="/api/v1")


def register_subscribers(app: Flask) -> None:
    """Higher capabilities listen to what lower ones announce (app/signals.py)."""

    notifications.subscribe()
    engagement_subscribers.subscribe()
    init_page_cache(app)


def register_errorhandlers(app: Flask) -> None:
    init_errorhandlers(app)
    # An id in a URL that no row can have is simply not found, on every page and API path
    # (blueprints included: app-level preprocessors run for them too), before a query fails on it.
    app.url_value_preprocessor(refuse_impossible_ids)
    # Text no database stores (NUL, lone surrogates) is refused before a view reads it.
    init_text_input(app)


def register_commands(app: Flask) -> None:
    init_commands(app)


def register_template_helpers(app: Flask) -> None:
    init_templating(app)


def configure_logging(app: Flask) -> None:
    init_observability(app)
