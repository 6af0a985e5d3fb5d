"""A request's database session ends cleanly even when the database has gone away after the
request's own work was done: the answer already made stands, and the next request gets a working
connection (app/extensions._end_session). The fault drill that restarts PostgreSQL met a 500 here:
a sign-up answered while the server was being stopped."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.extensions import db
from tests.app_support import DATABASES

# Only PostgreSQL can cut one session from outside (pg_terminate_backend); SQLite has no server.
pytestmark = pytest.mark.parametrize("db_url", [d for d in DATABASES if d == "postgresql"], indirect=True)


def _terminate(pid: int) -> None:
    """End backend `pid` from another connection, as an administrator's shutdown does."""
    with db.engine.connect() as other:
        other.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        other.commit()


def test_the_database_gone_after_the_answer_is_made_leaves_the_answer_and_the_next_request_works(app):
    @app.get("/probe/cut-after-answer")
    def cut_after_answer():
        # A transaction is open on the request's connection, as after any read; then the
        # server ends that connection before the request's session is closed.
        pid = db.session.execute(sa.text("SELECT pg_backend_pid()")).scalar_one()
        _terminate(pid)
        return "已回答"

    @app.get("/probe/read")
    def read():
        return str(db.session.execute(sa.text("SELECT 41 + 1")).scalar_one())

    client = app.test_client()
    answered = client.get("/probe/cut-after-answer")
    assert (answered.status_code, answered.get_data(as_text=True)) == (200, "已回答")
    following = client.get("/probe/read")
    assert (following.status_code, following.get_data(as_text=True)) == (200, "42")
