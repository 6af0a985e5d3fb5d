"""A PostgreSQL primary and its streaming replica of the test's own, for the tests marked
``replica``: the primary is a private cluster (tests/fault_support.py); the replica is made from
it with ``pg_basebackup -R`` (a base backup that starts as a standby streaming from the primary)
and runs as a hot standby on a port of its own. Both run as the ``postgres`` user, as the fault
drills' cluster does."""

from __future__ import annotations

import contextlib
import subprocess

import sqlalchemy as sa

from tests.fault_support import PostgresCluster
from tests.web_process import free_port


class PrimaryAndReplica:
    def __init__(self) -> None:
        self.primary = PostgresCluster()
        self.port = free_port()
        self.data = self.primary.root / "replica"
        self.log_path = self.primary.root / "replica.log"
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"
        try:
            self.primary._as_postgres(
                "pg_basebackup", "-h", "127.0.0.1", "-p", str(self.primary.port), "-U", "postgres",
                "-D", str(self.data), "-R", "-X", "stream", "--no-sync",
            )  # fmt: skip
            self.start_replica()
        except BaseException:
            self.destroy()
            raise
        self._replica = sa.create_engine(self.url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)

    def start_replica(self) -> None:
        options = f"-p {self.port} -k {self.primary.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        data, log = str(self.data), str(self.log_path)
        self.primary._as_postgres("pg_ctl", "-D", data, "-l", log, "-o", options, "-w", "start")

    def stop_replica(self) -> None:
        self.primary._as_postgres("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def _on_replica(self, statement: str):
        with self._replica.connect() as connection:
            return connection.execute(sa.text(statement)).scalar()

    def pause_replay(self) -> None:
        """The replica keeps answering but applies nothing more: it falls behind at once."""
        self._on_replica("SELECT pg_wal_replay_pause()")

    def resume_replay(self) -> None:
        self._on_replica("SELECT pg_wal_replay_resume()")

    def caught_up(self) -> bool:
        primary = sa.create_engine(self.primary.url, poolclass=sa.pool.NullPool)
        try:
            with primary.connect() as connection:
                written = connection.execute(sa.text("SELECT pg_current_wal_lsn()")).scalar()
        finally:
            primary.dispose()
        replayed = self._on_replica(f"SELECT pg_last_wal_replay_lsn() >= '{written}'::pg_lsn")
        return bool(replayed)

    def destroy(self) -> None:
        if (self.data / "postmaster.pid").exists():
            with contextlib.suppress(AssertionError, subprocess.TimeoutExpired):
                self.primary._as_postgres("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        self.primary.destroy()
