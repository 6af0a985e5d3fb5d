"""A real S3 HTTP endpoint for tests: moto's standalone server in its own process.

Tests talk to it through boto3 over loopback HTTP, exactly as production talks to S3, so request
signing, presigned URLs and multipart XML all take the real path. Import the fixtures into a test
module (``from tests.s3_server import s3_endpoint, s3_storage  # noqa: F401``); the server starts
once per session and is stopped at the end.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.storage import S3Storage
from tests.web_process import free_port

ACCESS_KEY = "testing"
SECRET_KEY = "testing"
START_TIMEOUT = 30.0


def _wait_until_up(proc: subprocess.Popen, url: str, log_path: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"moto server exited with {proc.returncode}:\n{log_path.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"{url}/moto-api/", timeout=1):
                return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.1)
    raise RuntimeError(f"moto server did not answer at {url} within {START_TIMEOUT}s")


def start_moto_server(log_path: Path, attempts: int = 3) -> tuple[subprocess.Popen, str]:
    """Start ``python -m moto.server`` on a free loopback port; return (process, endpoint URL)."""
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    for attempt in range(attempts):
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        log = log_path.open("ab")
        proc = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )
        log.close()
        try:
            _wait_until_up(proc, url, log_path)
            return proc, url
        except RuntimeError:
            stop_moto_server(proc)
            # Another process may have taken the port between our probe and moto's bind.
            if attempt == attempts - 1:
                raise
    raise AssertionError("unreachable")


def stop_moto_server(proc: subprocess.Popen) -> None:
    """Stop the server: SIGTERM, then SIGKILL if it lingers."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="session")
def s3_endpoint(tmp_path_factory) -> Iterator[str]:
    """The endpoint URL of a moto S3 server running for this test session."""
    log_path = tmp_path_factory.mktemp("moto") / "server.log"
    proc, url = start_moto_server(log_path)
    try:
        yield url
    finally:
        stop_moto_server(proc)


def make_s3_storage(endpoint: str, bucket: str | None = None, **kwargs) -> S3Storage:
    """An S3Storage on ``endpoint`` with the test credentials (bucket not created)."""
    return S3Storage(
        bucket=bucket or f"test-{secrets.token_hex(6)}",
        endpoint_url=endpoint,
        access_key=ACCESS_KEY,
        secret_key=SECRET_KEY,
        **kwargs,
    )


@pytest.fixture
def s3_storage(s3_endpoint) -> S3Storage:
    """An S3Storage on a fresh, empty bucket of the session's moto server."""
    storage = make_s3_storage(s3_endpoint)
    storage.ensure_bucket()
    return storage
