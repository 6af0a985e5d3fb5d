"""Browser fixtures: the app served on loopback by a real HTTP server in a thread, and
pytest-playwright driving the system's Chromium (no browser download: /usr/bin/chromium).
"""

from __future__ import annotations

import os
import threading

import pytest
from werkzeug.serving import make_server

from tests.app_support import database_url
from tests.e2e.browser_support import csp_violations

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
PHONE = {"width": 390, "height": 844}


def pytest_collection_modifyitems(items):
    for item in items:
        if "/e2e/" in str(item.fspath):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(params=["sqlite"])
def db_url(request, postgres_url) -> str:
    """Browser tests run on SQLite. They test what a person sees and does on a page (its scripts,
    styles, media, forms); what the server does under it is the same code on either engine and is
    tested on both by the HTTP tests. A second engine under every browser test cost some 180 s of
    worker time, a tenth of the suite (issue 16). test_journey.py, the one walk through every
    kind of write a person makes, runs on both: `parametrize("db_url", DATABASES, indirect=True)`."""
    return database_url(request.param, postgres_url)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"Chromium is not at {CHROMIUM}: `make test` installs Debian's chromium package")
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_ARGS}


@pytest.fixture
def browser_context_args(browser_context_args):
    return {**browser_context_args, "viewport": PHONE, "is_mobile": True, "locale": "zh-CN"}


class _InFlight:
    """The app, counting the requests it is answering. A page's scripts (the state call, the view
    beacon) may still be asking when its test ends; the app's teardown must wait for them, or it
    disposes of the engine under a request that then drops its database connection unclosed.
    It also keeps the bodies it returned, to close those the server left open."""

    def __init__(self, app) -> None:
        self.app = app
        self.count = 0
        self.closed = False
        self.idle = threading.Condition()
        self.bodies: list = []

    def __call__(self, environ, start_response):
        with self.idle:
            if self.closed:  # a kept-alive connection asking after the test: the app is going
                start_response("503 Service Unavailable", [("Content-Length", "0")])
                return [b""]
            self.count += 1
        try:
            # Flask ends the request (its session and connection given back) before it returns
            # the body: a video still streaming to the browser is not waited for.
            body = self.app(environ, start_response)
            # Werkzeug's server closes a body only after reading what is left on the connection,
            # and that read raises when the browser has reset it: a video dropped mid-stream
            # (hls.js taking over from the MP4) left its file open, and the ResourceWarning
            # failed whichever test the garbage collector ran in. close() closes them all.
            with self.idle:
                self.bodies.append(body)
            return body
        finally:
            self._done()

    def _done(self) -> None:
        with self.idle:
            self.count -= 1
            self.idle.notify_all()

    def close(self, timeout: float) -> bool:
        """No new requests; True once those being answered are done."""
        with self.idle:
            self.closed = True
            answered = self.idle.wait_for(lambda: self.count == 0, timeout)
            bodies, self.bodies = self.bodies, []
        for body in bodies:
            if hasattr(body, "close"):
                body.close()  # closing twice is harmless: a file, a response's callbacks
        return answered


@pytest.fixture
def live_server(app):
    """The test app on a free loopback port, served by Werkzeug in a thread."""
    counted = _InFlight(app)
    server = make_server("127.0.0.1", 0, counted, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=5)
    assert counted.close(timeout=30), f"{counted.count} requests still answering 30 s after the test"


@pytest.fixture
def context(context):
    """Every browser test's context, watched: a page that breaks the Content-Security-Policy
    (an inline script, a media host the policy forgot) fails the test that opened it, because
    in a real browser that page is broken."""
    messages: list[str] = []
    context.on(
        "console", lambda message: messages.append(f"{message.page and message.page.url}: {message.text}")
    )
    context.console_messages = messages
    yield context
    assert csp_violations(messages) == [], "Content-Security-Policy violations"
