"""Client addresses behind reverse proxies (PROXY_HOPS): trusted only as far as configured."""

from __future__ import annotations

from flask import request

from app import create_app
from app.clients import client_ip


def echo_app(**config):
    app = create_app("testing", **config)

    @app.get("/_test/ip")
    def ip():
        return {"ip": client_ip(), "scheme": request.scheme}

    return app


def test_without_proxies_a_forwarded_header_is_ignored():
    client = echo_app().test_client()

    answer = client.get("/_test/ip", headers={"X-Forwarded-For": "203.0.113.9"})

    assert answer.json["ip"] == "127.0.0.1"


def test_behind_one_proxy_the_client_is_the_address_it_appended():
    client = echo_app(PROXY_HOPS=1).test_client()

    answer = client.get("/_test/ip", headers={"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https"})

    assert answer.json == {"ip": "203.0.113.9", "scheme": "https"}


def test_behind_one_proxy_a_client_cannot_spoof_an_earlier_hop():
    client = echo_app(PROXY_HOPS=1).test_client()

    # The client sent "X-Forwarded-For: 10.0.0.1"; the proxy appended the address it saw.
    answer = client.get("/_test/ip", headers={"X-Forwarded-For": "10.0.0.1, 198.51.100.7"})

    assert answer.json["ip"] == "198.51.100.7"
