"""Servers the tests start on loopback: a free port, and real gunicorn processes serving a test app.

A `WebProcess` serves ``tests/served_app.py`` (the test's own settings, passed as JSON) from its
own gunicorn on its own port, with its own pools and clients, as one web host would.
"""

from __future__ import annotations

import fcntl
import http.client
import json
import os
import random
import signal
import socket
import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Ports for the servers tests start. Each test process (an xdist worker, or the only one) claims
# a block of its own for its lifetime with a lock file, so that no two processes on the machine,
# of this run or of another checkout's, ever hand out the same port: a port probed free and
# released can otherwise be taken by a neighbour before our server binds it, and a drill that
# restarts a server on its port would find it gone. The blocks lie below Linux's ephemeral range
# (32768-60999), where no outgoing connection takes a port either.
PORT_BLOCK = 100
PORT_BLOCKS = range(20_000, 32_000, PORT_BLOCK)
PORT_LOCKS = Path("/tmp/wmcwm-test-ports")


class _PortBlock:
    def __init__(self) -> None:
        self._lock_file = None
        self._next = 0
        self.start = 0

    def _claim(self) -> None:
        PORT_LOCKS.mkdir(mode=0o777, exist_ok=True)
        for start in random.sample(PORT_BLOCKS, len(PORT_BLOCKS)):
            handle = (PORT_LOCKS / f"{start}.lock").open("a")
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.close()
                continue
            self._lock_file, self.start = handle, start  # held until this process exits
            return
        raise RuntimeError(f"every block of test ports is taken (locks in {PORT_LOCKS})")

    def take(self) -> int:
        if self._lock_file is None:
            self._claim()
        for _ in range(PORT_BLOCK):
            port = self.start + self._next
            self._next = (self._next + 1) % PORT_BLOCK
            if _bindable(port):
                return port
        raise RuntimeError(f"no free port left in {self.start}-{self.start + PORT_BLOCK - 1}")


def _bindable(port: int) -> bool:
    with socket.socket() as sock:
        # As the servers bind: a port whose last connections linger in TIME_WAIT is free to them.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


_ports = _PortBlock()


def free_port() -> int:
    """A loopback port no other test process hands out, free now (see PORT_BLOCKS)."""
    return _ports.take()


# What a served process must share with the test's app to see the same world: its database,
# its Redis keys (counters, page cache, rate limits) and its media folder.
SHARED_SETTINGS = (
    "SQLALCHEMY_DATABASE_URI", "REDIS_URL", "REDIS_KEY_PREFIX", "RATELIMIT_STORAGE_URI",
    "RATELIMIT_KEY_PREFIX", "MEDIA_ROOT",
)  # fmt: skip


def served_config(app, **overrides) -> dict:
    """The config of a WebProcess serving `app`'s world, with `overrides` on top."""
    return {**{name: app.config[name] for name in SHARED_SETTINGS}, **overrides}


class WebProcess:
    """One gunicorn serving the test's app on a loopback port of its own."""

    def __init__(self, config: dict, log_path: Path) -> None:
        self.port = free_port()
        self.log_path = log_path
        env = dict(os.environ, WMCWM_SERVED_CONFIG=json.dumps(config), PYTHONUNBUFFERED="1")
        command = [
            str(ROOT / ".venv" / "bin" / "gunicorn"),
            "tests.served_app:served_app()",
            "--bind", f"127.0.0.1:{self.port}",
            "--workers", "1",
            "--threads", "4",
            "--worker-class", "gthread",
            "--log-level", "warning",
        ]  # fmt: skip
        with log_path.open("ab") as log:
            self.process = subprocess.Popen(
                command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        self._wait_until_serving()

    def _wait_until_serving(self) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.log_path.read_text()[-3000:]
            try:
                if self.call("GET", "/healthz")[0] == 200:
                    return
            except OSError:
                time.sleep(0.2)
        raise AssertionError(f"gunicorn did not answer within 60 s:\n{self.log_path.read_text()[-3000:]}")

    def call(self, method: str, path: str, token: str | None = None, body: dict | None = None):
        """(status, JSON body or None) of one call on a fresh connection."""
        status, answer, _raw = http_call(self.port, method, path, token, body)
        return status, answer

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


def http_call(port: int, method: str, path: str, token: str | None = None, body: dict | None = None):
    """One HTTP call on a fresh connection: (status, JSON body or None, raw text)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    try:
        conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
        response = conn.getresponse()
        raw = response.read().decode()
        kind = response.headers.get("Content-Type", "")
        return response.status, (json.loads(raw) if kind.startswith("application/json") else None), raw
    finally:
        conn.close()
