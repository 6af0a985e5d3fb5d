"""Profile: where a page view's script calls spend their time, in process — round trips counted,
then cProfile.

    .venv/bin/python bench/page_view_profile.py                  # SQLite in a temporary folder
    TEST_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres \
        .venv/bin/python bench/page_view_profile.py

The campaign bench's world (bench/campaign.py: 200 works, viewers who log in through the form),
Flask's test client, production-like cookies. For each call a page view makes after its page
(the state call for the home page's 20 works, anonymous and signed in; a signed-in work page's
state call that also counts the view; a first visit's view beacon and its repeat; a signed-in
beacon), it prints the SQL statements sent (COMMIT counted), the Redis round
trips and the CPU microseconds per call, then the signed-in state call under cProfile, its 25
functions with the most cumulative time. The last line printed is one JSON object.
"""

from __future__ import annotations

import cProfile
import html
import io
import json
import pstats
import re
import secrets
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import _support as support  # noqa: E402
from bench.campaign import CSRF_FIELD, LIKE_WIDGET, VIEW_BEACON, VIEW_TOKEN, populate  # noqa: E402
from bench.like_profile import Tally, instrument  # noqa: E402

PEOPLE = 100
CALLS = 300


def main() -> None:
    workdir = Path(tempfile.mkdtemp(prefix="wmcwm-bench-"))
    prefix = f"wmcwm-bench-{secrets.token_hex(4)}:"
    database = support.Database(workdir)
    from app.extensions import db

    app = support.in_process_app(
        database,
        workdir,
        prefix,
        PAGE_CACHE_ENABLED=True,
        LOGIN_IP_RATE_LIMIT="1000000 per minute",
        VISITOR_COOKIE_IP_RATE_LIMIT="1000000 per minute",
    )
    summary: dict[str, object] = {"db": database.kind}
    try:
        with app.app_context():
            world = populate()
            db.session.remove()
            tally = Tally()
            instrument(tally)
        people = []
        for email in world["emails"][:PEOPLE]:
            client = app.test_client()
            page = client.get("/login").get_data(as_text=True)
            token = html.unescape(CSRF_FIELD.search(page).group(1))
            form = {"csrf_token": token, "email": email, "password": support.PASSWORD}
            answer = client.post("/login", data=form)
            assert answer.status_code == 302, answer.status_code
            client.get("/")
            people.append(client)
        page = people[0].get("/").get_data(as_text=True)
        ids = list(dict.fromkeys(LIKE_WIDGET.findall(page)))[:100]
        state = "/api/v1/me/state?works=" + ",".join(ids)
        hot = world["works"][0]
        page = people[0].get(f"/works/{hot}").get_data(as_text=True)
        beacon = html.unescape(VIEW_BEACON.search(page).group(1))

        def signed_in(path: str, method: str = "GET"):
            def call(n: int) -> int:
                return people[n % PEOPLE].open(path, method=method).status_code

            return call

        def first_visit(n: int) -> int:
            anonymous = app.test_client()
            return anonymous.post(beacon).status_code

        def again(n: int) -> int:
            anonymous = app.test_client()
            return anonymous.post(beacon + "&again=1").status_code

        view = html.unescape(VIEW_TOKEN.search(page).group(1))
        calls = {
            "anonymous state call": lambda n: app.test_client().get(state).status_code,
            "signed-in state call": signed_in(state),
            "signed-in state call + view": signed_in(f"/api/v1/me/state?works={hot}&view={view}"),
            "view beacon, first visit": first_visit,
            "view beacon, again": again,
            "view beacon, signed in": signed_in(beacon, "POST"),
        }
        for name, call in calls.items():
            for n in range(20):
                call(n)  # warm-up
            tally.sql = tally.redis = 0
            tally.on = True
            began = time.process_time()
            for n in range(CALLS):
                status = call(n)
                assert status in (200, 202, 204), (name, status)
            cpu = (time.process_time() - began) / CALLS
            tally.on = False
            sql, trips = tally.sql / CALLS, tally.redis / CALLS
            summary[name] = {"sql": round(sql, 2), "redis": round(trips, 2), "cpu_us": round(cpu * 1e6)}
            print(f"{name:<34} SQL {sql:5.2f}  Redis {trips:5.2f}  CPU {cpu * 1e6:6.0f} µs")
        profiler = cProfile.Profile()
        profiler.enable()
        call = calls["signed-in state call"]
        for n in range(CALLS):
            call(n)
        profiler.disable()
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(40)
        print(re.sub(r"/\S*/site-packages/", "", out.getvalue()))
    finally:
        support.release(app, prefix)
        database.drop()
        shutil.rmtree(workdir, ignore_errors=True)
    print(json.dumps(summary, ensure_ascii=False))


if __name__ == "__main__":
    main()
