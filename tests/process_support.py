"""Python programs the tests start as processes of their own (a media worker, a scheduler), on
a test app's settings: started, waited for until they say they are ready, and stopped."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def start_python(script: str, args: list[str], log_path: Path, ready: str) -> subprocess.Popen:
    """Run ``python -c script *args`` from the checkout, its output appended to `log_path`, and
    return once it has printed the line `ready` (once more than the log held before)."""
    said_before = _count(log_path, ready)
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-c", script, *args],
            cwd=ROOT,
            env=dict(os.environ, PYTHONUNBUFFERED="1"),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 30
    while process.poll() is None and _count(log_path, ready) == said_before:
        assert time.monotonic() < deadline, log_path.read_text()
        time.sleep(0.1)
    assert process.poll() is None, log_path.read_text()
    return process


def _count(log_path: Path, line: str) -> int:
    return log_path.read_text().count(line) if log_path.exists() else 0


def stop_process(process: subprocess.Popen) -> None:
    """SIGTERM, as a process manager stops it; SIGKILL after 15 s if it does not stop."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
