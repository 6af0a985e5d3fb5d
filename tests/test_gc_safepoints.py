"""Garbage collection at safe points (app/gc_safepoints.py): on CPython 3.11 the web process
turns the automatic collector off once it serves and runs the same collections after each
response, where no C code can be interrupted."""

from __future__ import annotations

import gc
import weakref

import pytest

from app.gc_safepoints import CollectAfterResponse, collect_if_due, install


class Node:
    """Something that can sit in a reference cycle and be watched through a weak reference."""

    def __init__(self) -> None:
        self.other: Node | None = None


def cycle() -> weakref.ref:
    a, b = Node(), Node()
    a.other, b.other = b, a
    return weakref.ref(a)


def serve(app, path: str = "/healthz"):
    """One request as a WSGI server makes it: the response is read, then closed."""
    response = app.test_client().get(path)
    response.close()
    return response


@pytest.fixture
def collector():
    """The interpreter's collector as it was, put back after the test."""
    enabled, thresholds = gc.isenabled(), gc.get_threshold()
    gc.collect()
    yield
    gc.set_threshold(*thresholds)
    gc.unfreeze()
    if enabled:
        gc.enable()
    gc.collect()


def test_a_generation_past_its_threshold_is_collected(collector):
    gc.disable()
    gc.set_threshold(50, 1000, 1000)
    garbage = cycle()
    keep = [[] for _ in range(100)]  # tracked allocations push generation 0 past 50

    assert collect_if_due() == 0
    assert garbage() is None
    del keep


def test_nothing_is_collected_before_a_threshold_is_passed(collector):
    gc.disable()
    gc.set_threshold(100_000, 1000, 1000)
    garbage = cycle()

    assert collect_if_due() is None
    assert garbage() is not None


def test_the_oldest_generation_due_is_the_one_collected(collector):
    gc.disable()
    gc.set_threshold(1, 1, 1)
    for _ in range(3):  # each collection of a younger generation counts one for the next
        gc.collect(0)
        gc.collect(1)
    keep = [[] for _ in range(10)]

    assert collect_if_due() == 2
    del keep


def test_a_served_app_turns_the_automatic_collector_off_once_it_serves(app, collector):
    install(app, needed=True)
    assert gc.isenabled()  # importing the app (flask commands do) leaves the collector alone

    assert serve(app).status_code == 200
    assert not gc.isenabled()


def test_garbage_is_collected_after_a_response_is_closed(app, collector):
    install(app, needed=True)
    serve(app)
    gc.set_threshold(1, 1000, 1000)
    garbage = cycle()

    response = app.test_client().get("/healthz")
    assert garbage() is not None  # not while the response is still being sent
    response.close()
    assert garbage() is None


def test_the_response_is_the_apps_own(app, collector):
    install(app, needed=True)
    assert isinstance(app.wsgi_app, CollectAfterResponse)

    response = serve(app)
    assert response.status_code == 200
    assert response.get_json()["status"] == "ok"


def test_nothing_changes_where_the_interpreter_collects_at_safe_points(app, collector):
    install(app, needed=False)

    serve(app)
    assert not isinstance(app.wsgi_app, CollectAfterResponse)
    assert gc.isenabled()
