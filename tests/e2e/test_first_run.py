"""A newcomer's first hour, for real: scripts/run.sh (what `make run` starts) from this checkout
on a private instance folder, walked in Chromium.

The first start loads the demo; its media worker makes, uploads and transcodes the demo's film and
videos; then home → the film and a video play and seek → the featured wall → the national
moderator's review queue with works waiting (a waiting video plays too); the counters agree with
SQL; and the run stops cleanly on SIGTERM.

The run gets its own INSTANCE_PATH (SQLite, media, secret key), port, Redis key prefix and queue
name, so it never touches the developer's instance/ or a server already running. One test rather
than two: the run and the walk each paid for the demo and its three transcodes.
"""

from __future__ import annotations

import os
import re
import secrets
import signal
import sqlite3
import subprocess
import time
import urllib.error
import urllib.request
from contextlib import closing
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from app.demo import content
from tests.e2e.browser_support import plays_and_seeks
from tests.web_process import free_port

ROOT = Path(__file__).resolve().parents[2]
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
START_TIMEOUT = 90  # migrations and the demo data on a first run, on a busy 2-core machine
DEMO_VIDEOS_TIMEOUT = 300  # three short clips made, uploaded and transcoded by one worker

pytestmark = pytest.mark.slow


def process_group(pgid: int) -> dict[int, str]:
    """pid → command line of every live process in the process group `pgid`."""
    members = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        # Fields after the command name (which may hold spaces) start after the last ')'.
        state, _ppid, group = stat.rsplit(")", 1)[1].split()[:3]
        if int(group) == pgid and state != "Z":
            members[int(entry.name)] = cmdline
    return members


def get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


@pytest.fixture
def run_env(tmp_path, redis_server):
    token = secrets.token_hex(4)
    env = {
        key: value
        for key, value in os.environ.items()
        # Whatever points at the developer's data or a production store stays out.
        if key not in {"DATABASE_URL", "MEDIA_ROOT", "STORAGE_BACKEND", "SECRET_KEY", "APP_ENV"}
        and not key.startswith("S3_")
    }
    env.update(
        INSTANCE_PATH=str(tmp_path / "instance"),
        HOST="127.0.0.1",
        PORT=str(free_port()),
        REDIS_URL=REDIS_URL,
        REDIS_KEY_PREFIX=f"wmcwm-runtest-{token}:",
        MEDIA_QUEUE=f"media-runtest-{token}",
        MAINTENANCE_QUEUE=f"maintenance-runtest-{token}",
        WEB_WORKERS="1",
        WEB_THREADS="2",
        # The demo's clips made short: the suite pays for their transcodes.
        DEMO_CLIP_SECONDS="4",
    )
    yield env
    for pattern in (f"wmcwm-runtest-{token}:*", f"rq:*runtest-{token}*"):
        for key in redis_server.scan_iter(match=pattern, count=1000):
            redis_server.delete(key)
    for queue in (f"media-runtest-{token}", f"maintenance-runtest-{token}"):
        redis_server.srem("rq:queues", f"rq:queue:{queue}")


def demo_video_statuses(database: Path) -> dict[str, str]:
    """The statuses of the demo's film and videos in the run's SQLite database."""
    if not database.exists():
        return {}
    with closing(sqlite3.connect(database, timeout=10)) as conn:
        rows = conn.execute("SELECT title, status FROM work WHERE kind IN ('film', 'video')").fetchall()
    return dict(rows)


def test_a_newcomer_runs_the_site_walks_the_demo_from_a_playing_video_to_the_review_queue_and_stops_it(
    page: Page, run_env, tmp_path, redis_server
):
    log_path = tmp_path / "run.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            ["bash", "scripts/run.sh"],
            cwd=ROOT,
            env=run_env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so the test can signal all of it
        )
    pgid = process.pid
    url = f"http://127.0.0.1:{run_env['PORT']}/"
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while f"is running at {url}" not in log_path.read_text(errors="replace"):
            assert process.poll() is None, f"run.sh exited {process.returncode}:\n{log_path.read_text()}"
            assert time.monotonic() < deadline, f"no URL after {START_TIMEOUT} s:\n{log_path.read_text()}"
            time.sleep(0.2)

        assert "网络倡文明 已启动" in log_path.read_text()
        assert get(url + "readyz") == 200
        assert get(url) == 200
        members = process_group(pgid)
        assert any("-m media_worker" in cmd for cmd in members.values()), members
        assert any("gunicorn" in cmd for cmd in members.values()), members
        assert any("schedule cron" in cmd for cmd in members.values()), members
        assert any("schedule worker" in cmd for cmd in members.values()), members
        assert (Path(run_env["INSTANCE_PATH"]) / "app.db").exists()
        # The scheduler's processes take SIGTERM between jobs once they have started; a signal
        # that lands while one is still importing the app ends it before it has anything to
        # lose, and says nothing.
        for started in ("定时任务已启动", "定时任务执行进程已启动"):
            while started not in log_path.read_text(errors="replace"):
                assert time.monotonic() < deadline, f"no {started}:\n{log_path.read_text()}"
                time.sleep(0.2)

        # The first start: the demo's accounts are printed with the URL, the worker makes,
        # uploads and transcodes the demo's film and videos (two published, one left for review),
        # and the first reconcile (the scheduler's first repair-counters run) finds the demo's
        # numbers right.
        log = log_path.read_text()
        assert log.index("demo accounts") < log.index("is running at"), log
        assert len(re.findall(r"email: \S+\s+password: \S+", log)) == 10
        statuses: dict[str, str] = {}
        video_deadline = time.monotonic() + DEMO_VIDEOS_TIMEOUT
        wanted = {
            "守护万家灯火": "published",
            "地铁站里的一分钟": "published",
            "山里孩子的早读课": "pending_review",
        }
        while statuses != wanted:
            statuses = demo_video_statuses(Path(run_env["INSTANCE_PATH"]) / "app.db")
            assert "failed" not in statuses.values(), log_path.read_text()[-3000:]
            assert time.monotonic() < video_deadline, (
                f"demo videos {statuses}:\n{log_path.read_text()[-3000:]}"
            )
            time.sleep(0.5)
        intact = f"{run_env['REDIS_KEY_PREFIX']}{{jobs}}:intact"
        while not redis_server.exists(intact):
            assert time.monotonic() < video_deadline, "the first reconcile did not finish"
            time.sleep(0.2)
        assert "counter drift repaired" not in log_path.read_text()

        walk_the_demo(page, url.rstrip("/"), dict(re.findall(r"email: (\S+)\s+password: (\S+)", log)))

        # Publication by the worker and the visits above left no drift between Redis and SQL.
        check = subprocess.run(
            [str(ROOT / ".venv/bin/flask"), "counters", "reconcile"],
            cwd=ROOT,
            env={**run_env, "APP_ENV": "development", "FLASK_APP": "wsgi"},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert check.returncode == 0 and "计数与数据库一致" in check.stdout, check.stdout + check.stderr

        os.killpg(pgid, signal.SIGTERM)
        assert process.wait(timeout=30) == 0
        deadline = time.monotonic() + 10
        while process_group(pgid) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert process_group(pgid) == {}, "children outlived run.sh"
        log = log_path.read_text()
        assert re.search(r"media worker \S+ stopped", log), log[-2000:]
        assert "定时任务已停止" in log, log[-2000:]
        assert "定时任务执行进程已停止" in log, log[-2000:]
        assert "scheduler (flask schedule cron, pid" in log, log[-2000:]
    finally:
        if process_group(pgid):
            os.killpg(pgid, signal.SIGKILL)
        process.wait(timeout=10)


def walk_the_demo(page: Page, site: str, passwords: dict[str, str]) -> None:
    film, video, waiting = content.VIDEOS
    # Home: the newest work, the film, is there; it plays and seeks.
    page.goto(site)
    card = page.locator(".work-card", has_text=film.title)
    expect(card).to_be_visible()
    card.locator("h3 a").click()
    expect(page.locator("h1")).to_contain_text(film.title)
    plays_and_seeks(page)
    # The other published video, portrait, too.
    page.goto(site)
    page.locator(".work-card", has_text=video.title).locator("h3 a").click()
    plays_and_seeks(page)

    # The wall: six featured works, the film first.
    page.goto(f"{site}/wall")
    featured = page.locator("#featured .work-card")
    expect(featured).to_have_count(6)
    expect(featured.first).to_contain_text(film.title)

    # The national moderator's queue: the waiting stories and the waiting video, which plays.
    page.goto(f"{site}/login")
    page.fill("#email", "demo-moderator@example.com")
    page.fill("#password", passwords["demo-moderator@example.com"])
    page.click("form.stacked button[type=submit]")
    page.goto(f"{site}/moderation")
    queue = page.locator("main")
    for title in [s.title for s in content.STORIES if s.waiting] + [waiting.title]:
        expect(queue).to_contain_text(title)
    page.locator("main a", has_text=waiting.title).first.click()
    plays_and_seeks(page)
