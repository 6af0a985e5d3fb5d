"""The broken parts of the fault drills (tests/test_fault_drills.py), each a real one.

- :class:`RedisServer`: a private ``redis-server`` without persistence, so a restart loses its
  contents as a real cache restart does.
- :class:`PostgresCluster`: a private PostgreSQL cluster (initdb / pg_ctl run as the ``postgres``
  user, in a folder of its own, on a port of its own): restarting it never touches the machine's
  shared server.
- :class:`TcpProxy`: a loopback TCP proxy in front of the S3 endpoint that can be cut (new
  connections refused, open ones reset) and restored on the same port; moto keeps its buckets in
  memory, so stopping moto itself would lose them.
- :func:`small_filesystem`: a tmpfs of a few MiB, mounted for the test and always unmounted, so a
  full disk is the kernel's own ENOSPC.
"""

from __future__ import annotations

import contextlib
import glob
import selectors
import shutil
import socket
import struct
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import redis

from tests.web_process import free_port


def wait_until(predicate, timeout: float, message: str, interval: float = 0.05):
    """Poll `predicate` until it returns something true; its value, or AssertionError(message)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(message() if callable(message) else message)
        time.sleep(interval)


# --------------------------------------------------------------------------------------------
# Redis


class RedisServer:
    """A redis-server of the test's own on a loopback port; ``restart`` keeps the port."""

    def __init__(self, log_path: Path) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.log_path = log_path
        self.process: subprocess.Popen | None = None
        self.start()

    def start(self) -> None:
        command = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1"]
        command += ["--save", "", "--appendonly", "no", "--daemonize", "no"]
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        client = redis.Redis(port=self.port, socket_connect_timeout=0.2)
        wait_until(lambda: self._answers(client), 10, lambda: self.log_path.read_text()[-2000:])
        client.close()

    def _answers(self, client: redis.Redis) -> bool:
        assert self.process is not None and self.process.poll() is None, self.log_path.read_text()[-2000:]
        try:
            return bool(client.ping())
        except redis.RedisError:
            return False

    def kill(self) -> None:
        """SIGKILL: no shutdown, nothing saved (there is nothing to save to anyway)."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


# --------------------------------------------------------------------------------------------
# PostgreSQL


def postgres_bin_dir() -> Path:
    """The newest installed PostgreSQL's server programs (`scripts/bootstrap.sh --test` installs
    them when missing)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(Path(p).parts[4]))
    assert found, "PostgreSQL's server programs are missing: run `scripts/bootstrap.sh --test`"
    return Path(found[-1]).parent


class PostgresCluster:
    """A private cluster: data folder owned by ``postgres`` (the server refuses to run as root),
    trust authentication on 127.0.0.1 only, fsync off (a test cluster is thrown away)."""

    def __init__(self) -> None:
        self.bin = postgres_bin_dir()
        self.port = free_port()
        # Not under pytest's tmp_path: its parents are root's and closed to the postgres user.
        self.root = Path(tempfile.mkdtemp(prefix="wmcwm-drill-pg-"))
        self.data = self.root / "data"
        self.log_path = self.root / "server.log"
        shutil.chown(self.root, "postgres", "postgres")
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"
        try:
            self._as_postgres(
                "initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust",
                "--encoding=UTF8", "--locale=C.UTF-8", "--no-sync",
            )  # fmt: skip
            self.start()
        except BaseException:
            self.destroy()
            raise

    def _as_postgres(self, program: str, *args: str) -> None:
        command = ["runuser", "-u", "postgres", "--", str(self.bin / program), *args]
        result = subprocess.run(command, capture_output=True, text=True, timeout=60, cwd=self.root)
        log = self.log_path.read_text()[-2000:] if self.log_path.exists() else ""
        assert result.returncode == 0, f"{program} failed:\n{result.stdout}\n{result.stderr}\n{log}"

    def _options(self) -> str:
        return f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"

    def start(self) -> None:
        self._as_postgres(
            "pg_ctl", "-D", str(self.data), "-l", str(self.log_path), "-o", self._options(), "-w", "start"
        )

    def stop(self, mode: str = "fast") -> None:
        """``pg_ctl stop``: sessions are cut (fast: rolled back; immediate: no shutdown at all)."""
        self._as_postgres("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def destroy(self) -> None:
        if (self.data / "postmaster.pid").exists():
            with contextlib.suppress(AssertionError, subprocess.TimeoutExpired):
                self._as_postgres("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)


# --------------------------------------------------------------------------------------------
# An S3 endpoint that goes down


class TcpProxy:
    """Forward 127.0.0.1:<port> to `target`; ``cut`` makes the endpoint refuse connections.

    ``cut_on`` arms it: the connection whose client bytes contain the pattern (for the n-th time)
    is reset before that request reaches the target, and the proxy stays down until ``restore``.
    """

    def __init__(self, target: str) -> None:
        host, port = target.rsplit("//", 1)[-1].split(":")
        self.target = (host, int(port))
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._lock = threading.Lock()
        self._sockets: set[socket.socket] = set()
        self._listener: socket.socket | None = None
        self._trigger: bytes | None = None
        self._seen = 0
        self._occurrence = 1
        self.cut_event = threading.Event()
        self._closing = False
        self.restore()

    def restore(self) -> None:
        with self._lock:
            if self._listener is not None:
                return
            listener = socket.socket()
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind(("127.0.0.1", self.port))
            listener.listen(64)
            self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def cut_on(self, pattern: bytes, occurrence: int = 1) -> None:
        """Go down at the `occurrence`-th request whose bytes contain `pattern`, before it is sent."""
        self._seen = 0
        self._occurrence = occurrence
        self._trigger = pattern

    def cut(self) -> None:
        """Down: the port refuses new connections and every open one is reset."""
        with self._lock:
            listener, self._listener = self._listener, None
            sockets, self._sockets = self._sockets, set()
        if listener is not None:
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)
            listener.close()
        for sock in sockets:
            _reset(sock)
        self.cut_event.set()

    def close(self) -> None:
        self._closing = True
        self.cut()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # the listener was closed: cut
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            with self._lock:
                if self._listener is not listener:
                    _reset(client)
                    upstream.close()
                    return
                self._sockets |= {client, upstream}
            threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()

    def _pump(self, client: socket.socket, upstream: socket.socket) -> None:
        selector = selectors.DefaultSelector()
        selector.register(client, selectors.EVENT_READ, upstream)
        selector.register(upstream, selectors.EVENT_READ, client)
        try:
            while True:
                for key, _ in selector.select(timeout=1):
                    source: socket.socket = key.fileobj  # type: ignore[assignment]
                    data = source.recv(65536)
                    if not data:
                        return
                    if source is client and self._trigger and self._trigger in data:
                        self._seen += 1
                        if self._seen >= self._occurrence:
                            self._trigger = None
                            self.cut()
                            return
                    key.data.sendall(data)
                if self._closing:
                    return
        except OSError:
            return
        finally:
            selector.close()
            for sock in (client, upstream):
                with self._lock:
                    self._sockets.discard(sock)
                with contextlib.suppress(OSError):
                    sock.close()


def _reset(sock: socket.socket) -> None:
    """Close with RST, as a host going away would, rather than a polite FIN."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()


# --------------------------------------------------------------------------------------------
# A small disk


@contextlib.contextmanager
def small_filesystem(size: str) -> Iterator[Path]:
    """A tmpfs of `size` (e.g. ``"4m"``) mounted on a fresh folder; unmounted whatever happens."""
    mount_point = Path(tempfile.mkdtemp(prefix="wmcwm-drill-disk-"))
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(mount_point)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, f"could not mount a tmpfs (the drill needs root): {result.stderr}"
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)
        mount_point.rmdir()


def grow_filesystem(mount_point: Path, size: str) -> None:
    """Free space the way an operator does it: make the file system bigger."""
    subprocess.run(["mount", "-o", f"remount,size={size}", str(mount_point)], check=True)


# --------------------------------------------------------------------------------------------
# Talking to a served app


class Uploader:
    """The upload API as a client with a bearer token speaks it, through the app's test client."""

    def __init__(self, app, token: str) -> None:
        self.client = app.test_client()
        self.headers = {"Authorization": f"Bearer {token}"}

    def open(self, work_id: int, data: bytes):
        body = {"filename": "clip.mp4", "size": len(data), "content_type": "video/mp4"}
        return self.client.post(f"/api/v1/works/{work_id}/uploads", json=body, headers=self.headers)

    def put(self, target: dict, chunk: bytes):
        """One part: to the app (local storage), or straight to a presigned bucket URL (S3)."""
        import urllib.request

        if target["url"].startswith("http"):
            headers = {"Content-Type": "application/octet-stream"}
            request = urllib.request.Request(target["url"], data=chunk, method="PUT", headers=headers)
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, response.headers["ETag"].strip('"')
        headers = {**self.headers, "Content-Type": "application/octet-stream"}
        response = self.client.put(target["url"], data=chunk, headers=headers)
        return response.status_code, response.json

    def state(self, upload_id: str) -> dict:
        return self.client.get(f"/api/v1/uploads/{upload_id}", headers=self.headers).json

    def complete(self, upload_id: str, parts: list[dict]):
        return self.client.post(
            f"/api/v1/uploads/{upload_id}/complete", json={"parts": parts}, headers=self.headers
        )

    def upload(self, work_id: int, data: bytes):
        """The whole file in one go; the completion's response."""
        opened = self.open(work_id, data)
        assert opened.status_code == 201, opened.json
        size, parts = opened.json["part_size"], []
        for target in opened.json["parts"]:
            status, answer = self.put(target, data[(target["number"] - 1) * size : target["number"] * size])
            assert status == 200, answer
            parts.append(
                {"number": target["number"], "etag": answer if isinstance(answer, str) else answer["etag"]}
            )
        return self.complete(opened.json["upload_id"], parts)
