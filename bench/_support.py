"""What the benches share: a scratch database, accounts with bearer tokens written in bulk,
gunicorn on a free loopback port, and forgetting the bench's Redis keys.

Nothing here imports the app at module level: each bench sets its environment first (production
settings, its own key prefix), then imports the app. The campaign comes from the tests' builder
(tests/builders_support.py), imported the same way.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import re
import secrets
import signal
import socket
import subprocess
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Every bench account's password (hashed once per bench: hashing thousands would take minutes).
PASSWORD = "Bench-password-2026"


class Database:
    """A scratch PostgreSQL database on TEST_DATABASE_URL's server (dropped afterwards), or a
    SQLite file in the bench's folder."""

    def __init__(self, workdir: Path, base_url: str | None = None) -> None:
        import sqlalchemy as sa

        base = base_url or os.environ.get("TEST_DATABASE_URL")
        self._admin = None
        if base:
            url = sa.engine.make_url(base)
            if url.drivername == "postgresql":
                url = url.set(drivername="postgresql+psycopg")
            self.name = f"wmcwm_bench_{secrets.token_hex(4)}"
            self._admin = sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
            with self._admin.connect() as conn:
                conn.execute(sa.text(f'CREATE DATABASE "{self.name}"'))
            self.url = url.set(database=self.name).render_as_string(hide_password=False)
            self.kind = "postgresql"
        else:
            self.url = f"sqlite:///{workdir / 'bench.db'}"
            self.kind = "sqlite"

    def drop(self) -> None:
        import sqlalchemy as sa

        if self._admin is not None:
            with self._admin.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))
            self._admin.dispose()


def hash_token(token: str) -> str:
    # As app.auth.services stores API tokens; add_tokens checks it through user_for_token.
    return hashlib.sha256(token.encode()).hexdigest()


def add_tokens(user_ids: list[int]) -> dict[int, str]:
    """A bearer token for each account, inserted in one statement; the tokens by account id."""
    import sqlalchemy as sa

    from app.auth.services import user_for_token
    from app.extensions import db
    from app.models import ApiToken, utcnow

    expires = utcnow() + timedelta(days=1)
    tokens = {user_id: secrets.token_urlsafe(32) for user_id in user_ids}
    db.session.execute(
        sa.insert(ApiToken),
        [
            {"user_id": user_id, "token_hash": hash_token(token), "expires_at": expires}
            for user_id, token in tokens.items()
        ],
    )
    db.session.commit()
    first = next(iter(tokens))
    assert user_for_token(tokens[first]).id == first, "token hashing differs from the app's"
    return tokens


def forget_keys(prefix: str, queue: str | None = None) -> None:
    """The bench's Redis keys (its prefix, the limiter's, its RQ queue); in the app's context."""
    from app.extensions import queue_redis, redis_client

    for client, patterns in (
        (redis_client.client, [f"{prefix}*", f"LIMITS:LIMITER/{prefix}*"]),
        (queue_redis.client, [f"rq:*{queue}*"] if queue else []),
    ):
        for pattern in patterns:
            for key in client.scan_iter(match=pattern, count=1000):
                client.delete(key)
    if queue:
        queue_redis.client.srem("rq:queues", f"rq:queue:{queue}")


class Engines:
    """The engines a bench may start for itself (issue 18): a Redis Cluster of 3 primaries and 3
    replicas, and a PostgreSQL primary with a streaming replica, as the tests start them
    (tests/redis_cluster_support.py, tests/postgres_replica_support.py; the replica needs root,
    to run PostgreSQL as the postgres user)."""

    def __init__(self, *, redis_cluster: bool = False, replica: bool = False) -> None:
        from tests.postgres_replica_support import PrimaryAndReplica
        from tests.redis_cluster_support import RedisClusterProcesses

        self.cluster = RedisClusterProcesses() if redis_cluster else None
        self.pair = PrimaryAndReplica() if replica else None
        self.database_url = self.pair.primary.url if self.pair else None

    def settings(self, database: Database) -> dict[str, str]:
        import sqlalchemy as sa

        found: dict[str, str] = {}
        if self.cluster is not None:
            found.update(
                REDIS_URL=self.cluster.url,  # the limiter's storage follows it (config.py)
                QUEUE_REDIS_URL=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
            )
        if self.pair is not None:
            replica = sa.engine.make_url(self.pair.url).set(database=database.name)
            found["DATABASE_REPLICA_URL"] = replica.render_as_string(hide_password=False)
        return found

    def stop(self) -> None:
        if self.cluster is not None:
            self.cluster.stop()
        if self.pair is not None:
            self.pair.destroy()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(
    env: dict[str, str],
    port: int,
    workers: int,
    threads: int,
    app: str = "bench.likes:bench_app()",
    worker_class: str = "gthread",
    log: Path | None = None,
) -> subprocess.Popen:
    """gunicorn serving `app` on 127.0.0.1:`port`, once /healthz answers; its output (the access
    log, as production writes it) to the file `log` if given."""
    command = [
        str(ROOT / ".venv" / "bin" / "gunicorn"),
        app,
        "--bind", f"127.0.0.1:{port}",
        "--workers", str(workers),
        "--threads", str(threads),
        "--worker-class", worker_class,
        "--keep-alive", "30",
        "--backlog", "2048",
        "--log-level", "warning",
    ]  # fmt: skip
    output = log.open("ab") if log else None
    server = subprocess.Popen(
        command, cwd=ROOT, env=env, start_new_session=True, stdout=output, stderr=output
    )
    if output:
        output.close()  # the server holds its own copy
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            tail = log.read_text(errors="replace")[-2000:] if log else ""
            raise SystemExit(f"gunicorn exited with {server.returncode}\n{tail}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return server
        except OSError:
            time.sleep(0.2)
    raise SystemExit("gunicorn did not answer within 60 s")


def stop_server(server: subprocess.Popen) -> None:
    if server.poll() is None:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


def server_cpu_seconds(server: subprocess.Popen) -> float:
    """CPU time (user + sys) used so far by gunicorn's master and its live workers, from /proc.
    A bench divides it by the calls it served: a cost that background load does not change."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue  # a process that ended meanwhile
        pid, parent = int(stat.parent.name), int(fields[1])
        if server.pid in (pid, parent):
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / tick


def server_env(database: Database, workdir: Path, prefix: str, **settings: str) -> dict[str, str]:
    """The environment of a gunicorn serving the production app on `database`, its own Redis
    prefix and local storage in `workdir`; `settings` add to it (raised per-IP limits…)."""
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("S3_")},
        "APP_ENV": "production",
        "SECRET_KEY": secrets.token_hex(32),
        # The bench's clients ask for 127.0.0.1 (production answers only to this host).
        "PUBLIC_BASE_URL": "http://127.0.0.1",
        "DATABASE_URL": database.url,
        "REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
        "REDIS_KEY_PREFIX": prefix,
        "INSTANCE_PATH": str(workdir),
        "MEDIA_ROOT": str(workdir / "media"),
        "STORAGE_BACKEND": "local",
        **settings,
    }


def in_process_app(database: Database, workdir: Path, prefix: str, **settings):
    """The testing app on `database`, counting under `prefix` on REDIS_URL, for benches that call
    it in this process (a test client, cProfile); `settings` add to it (raised limits…)."""
    from app import create_app

    redis_url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    return create_app(
        "testing",
        SQLALCHEMY_DATABASE_URI=database.url,
        MEDIA_ROOT=str(workdir / "media"),
        REDIS_URL=redis_url,
        REDIS_KEY_PREFIX=prefix,
        RATELIMIT_STORAGE_URI=redis_url,
        RATELIMIT_KEY_PREFIX=prefix + "limiter",
        **settings,
    )


def release(app, prefix: str, queue: str | None = None) -> None:
    """The bench app's connections closed and its Redis keys forgotten."""
    from app.extensions import db

    with app.app_context():
        db.session.remove()
        db.engine.dispose()
        forget_keys(prefix, queue)


def add_viewers(count: int, *, email: str, name: str, verified: bool = False) -> list[int]:
    """`count` viewer accounts in one statement, all with one hash of PASSWORD; their ids in
    order. `email` and `name` are formats of n ("bench{n}@example.com")."""
    import sqlalchemy as sa
    from werkzeug.security import generate_password_hash

    from app.extensions import db
    from app.models import Role, User, utcnow

    now = utcnow()
    password_hash = generate_password_hash(PASSWORD)
    rows = [
        {
            "email": email.format(n=n),
            "display_name": name.format(n=n),
            "password_hash": password_hash,
            "role": Role.VIEWER,
            "banned": False,
            "created_at": now,
        }
        | ({"email_verified_at": now} if verified else {})
        for n in range(count)
    ]
    first = db.session.scalar(sa.select(sa.func.max(User.id))) or 0
    db.session.execute(sa.insert(User), rows)
    db.session.commit()
    return list(db.session.scalars(sa.select(User.id).where(User.id > first).order_by(User.id)))


# --------------------------------------------------------------------------------------------
# py-spy on a bench's gunicorn (docs/performance.md: what each profile showed)


def py_spy_record(server: subprocess.Popen, seconds: float, out: Path, rate: int = 40) -> subprocess.Popen:
    """py-spy sampling gunicorn's master and workers for ``seconds``, only threads holding the GIL
    (``--gil``: the shares are CPU, not waiting on the database or Redis), without pausing them
    (``--nonblocking``), as raw stacks in ``out``. Needs ptrace rights over gunicorn (root, or
    ``kernel.yama.ptrace_scope`` 0)."""
    command = [str(ROOT / ".venv" / "bin" / "py-spy"), "record", "--subprocesses", "--gil", "--nonblocking"]
    command += ["--rate", str(rate), "--format", "raw", "-d", str(max(1, round(seconds)))]
    command += ["-p", str(server.pid), "-o", str(out)]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


_FRAME = re.compile(r"^(?P<name>\S+) \((?P<file>[^:)]+)")
_WRAPPER_NAMES = ("wrapper", "decorator", "decorated", "inner")


def _in_app(match: re.Match | None) -> bool:
    # py-spy names files by their import path: the app's start with app/ (gunicorn/app/… does not).
    return match is not None and match["file"].startswith("app/")


def _view_of(frames: list[str]) -> str:
    """Which view a sample belongs to: the first app function under Flask's dispatch that is not
    a decorator; a page-cache hit when the cache answered without one; else outside the view."""
    matches = [_FRAME.match(frame) for frame in frames]
    start = next((i for i, m in enumerate(matches) if m and m["name"] == "Flask.dispatch_request"), None)
    if start is None:
        return "outside a view (request set-up and hooks, the access log, gunicorn)"
    cache = False
    for match in matches[start + 1 :]:
        if not _in_app(match):
            continue
        if match["file"].endswith("page_cache.py"):
            cache = True
        elif match["name"].split(".")[-1] not in _WRAPPER_NAMES:
            return f"{match['name']} ({match['file']})"
    return "the page cache, a hit" if cache else "a view outside app/"


def py_spy_shares(raw: Path, top: int = 20) -> tuple[int, list[tuple[float, str]], list[tuple[float, str]]]:
    """(samples; views by share of the samples; the app's functions by inclusive share) of a
    raw py-spy file."""
    total = 0
    views: dict[str, int] = {}
    functions: dict[str, int] = {}
    for line in raw.read_text().splitlines():
        stack, _space, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        samples = int(count)
        frames = stack.split(";")
        total += samples
        view = _view_of(frames)
        views[view] = views.get(view, 0) + samples
        seen = set()
        for frame in frames:
            match = _FRAME.match(frame)
            if not _in_app(match):
                continue
            name = f"{match['name']} ({match['file']})"
            if name not in seen:
                seen.add(name)
                functions[name] = functions.get(name, 0) + samples

    def ranked(counts: dict[str, int]) -> list[tuple[float, str]]:
        return sorted(((n / max(total, 1), name) for name, n in counts.items()), reverse=True)[:top]

    return total, ranked(views), ranked(functions)
