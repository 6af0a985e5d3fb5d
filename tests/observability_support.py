"""Helpers for the observability tests: read `/metrics` as Prometheus does, capture JSON logs,
and run the real media worker in this process."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager

from flask import Flask
from prometheus_client.parser import text_string_to_metric_families
from rq import SimpleWorker

from app.observability.logs import install_handler
from app.queue import media_queue
from media_worker.worker import MediaWorker


class Scrape(dict):
    """Samples of one scrape: ``scrape["likes_total"]`` or ``scrape["x_total", {"a": "b"}]``."""

    def __getitem__(self, key):
        name, labels = key if isinstance(key, tuple) else (key, {})
        return dict.get(self, (name, frozenset(labels.items())), 0.0)

    def total(self, name: str, **labels: str) -> float:
        """The sum over every sample of `name` whose labels include `labels`."""
        wanted = set(labels.items())
        return sum(value for (sample, found), value in self.items() if sample == name and wanted <= found)


def scrape(client, **headers: str) -> Scrape:
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    samples = Scrape()
    for family in text_string_to_metric_families(response.get_data(as_text=True)):
        for sample in family.samples:
            dict.__setitem__(samples, (sample.name, frozenset(sample.labels.items())), sample.value)
    return samples


@contextmanager
def json_log() -> Iterator[list[dict]]:
    """Every log line written in the block, parsed, as the production handler writes them."""
    stream = io.StringIO()
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    install_handler("json", "INFO", stream=stream)
    lines: list[dict] = []
    try:
        yield lines
    finally:
        for handler in list(root.handlers):
            if handler not in handlers:
                root.removeHandler(handler)
        root.setLevel(level)
        lines.extend(json.loads(line) for line in stream.getvalue().splitlines())


class InProcessWorker(MediaWorker, SimpleWorker):
    """The media worker's job handling (app context, request ids) without forking a work horse."""


def run_worker(app: Flask) -> None:
    """Process every job waiting on the app's media queue, then return."""
    queue = media_queue()
    InProcessWorker([queue], connection=queue.connection, app=app).work(burst=True)
