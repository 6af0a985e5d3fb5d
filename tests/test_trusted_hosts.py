"""The Host header never writes our links: mails, share cards and poster QR codes use
PUBLIC_BASE_URL, production will not start without it, and requests for a host outside the
configured set are refused (issue 17, finding 3)."""

from __future__ import annotations

import re

import pytest

from app import create_app
from tests.app_support import REDIS_URL
from tests.builders_support import make_work
from tests.sharing_support import decode_qr_svg, head_of
from tests.sign_in_support import csrf_token

PUBLIC = "https://wenming.example.cn"
# What an operator adds next to the public name: the internal name the load balancer uses
# (here the test client's own default host).
INTERNAL = "localhost"
STRONG_KEY = "9c1e5f0a7b3d4e2f8a6c0b9d1e3f5a7c"


@pytest.fixture
def deployed(app):
    """The test app configured as production derives it: links on PUBLIC_BASE_URL, and only
    its host and TRUSTED_HOSTS answered."""
    app.config.update(PUBLIC_BASE_URL=PUBLIC, TRUSTED_HOSTS=["wenming.example.cn", INTERNAL])
    return app


def test_a_request_for_another_host_is_refused(deployed, make_user):
    client = deployed.test_client()
    user = make_user()
    token = csrf_token(client)  # from a page on a trusted host
    answer = client.post(
        "/forgot-password",
        data={"email": user.email, "csrf_token": token},
        headers={"Host": "evil.example"},
    )
    assert answer.status_code == 400


def test_no_reset_mail_goes_out_for_a_foreign_host(deployed, make_user, mails):
    client = deployed.test_client()
    user = make_user()
    token = csrf_token(client)
    client.post(
        "/forgot-password", data={"email": user.email, "csrf_token": token}, headers={"Host": "evil.example"}
    )
    assert mails() == []


def test_the_reset_link_is_on_the_public_site_whatever_trusted_host_was_asked(deployed, make_user, mails):
    client = deployed.test_client()
    user = make_user()
    token = csrf_token(client)
    answer = client.post(
        "/forgot-password", data={"email": user.email, "csrf_token": token}, base_url=f"http://{INTERNAL}"
    )
    assert answer.status_code == 200
    [mail] = mails()
    links = re.findall(r"https?://\S+/reset-password/\S+", mail)
    assert links and all(link.startswith(f"{PUBLIC}/reset-password/") for link in links)


def test_share_cards_and_the_poster_qr_code_point_at_the_public_site(
    deployed, make_collective, open_campaign
):
    work = make_work(make_collective(), open_campaign, title="站台上的温暖守候")
    client = deployed.test_client()
    head = head_of(client.get(f"/works/{work.id}", base_url=f"http://{INTERNAL}"))
    assert head.meta["og:url"] == f"{PUBLIC}/works/{work.id}"
    poster = client.get(f"/works/{work.id}/poster", base_url=f"http://{INTERNAL}").get_data(as_text=True)
    assert decode_qr_svg(poster) == [f"{PUBLIC}/w/{work.id}"]


def test_behind_a_trusted_proxy_a_forwarded_host_outside_the_set_is_refused():
    app = create_app("testing", PROXY_HOPS=1, TRUSTED_HOSTS=["wenming.example.cn"])
    client = app.test_client()
    ok = client.get("/api/v1/openapi.json", headers={"X-Forwarded-Host": "wenming.example.cn"})
    assert ok.status_code == 200
    refused = client.get("/api/v1/openapi.json", headers={"X-Forwarded-Host": "evil.example"})
    assert refused.status_code == 400


def test_without_proxy_hops_a_forwarded_host_is_not_believed(deployed):
    answer = deployed.test_client().get(
        "/api/v1/openapi.json", base_url=PUBLIC, headers={"X-Forwarded-Host": "evil.example"}
    )
    assert answer.status_code == 200  # answered for the Host it came with, the header ignored


def _production(tmp_path, **overrides):
    settings = {
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'production.db'}",
        "REDIS_URL": REDIS_URL,
        "SECRET_KEY": STRONG_KEY,
    }
    return create_app("production", **{**settings, **overrides})


@pytest.mark.parametrize("value", [None, "", "wenming.example.cn", "ftp://wenming.example.cn"])
def test_production_refuses_to_start_without_a_public_base_url(tmp_path, value):
    with pytest.raises(RuntimeError, match="PUBLIC_BASE_URL"):
        _production(tmp_path, PUBLIC_BASE_URL=value)


def test_production_answers_only_to_the_public_host_and_the_trusted_ones(tmp_path):
    app = _production(tmp_path, PUBLIC_BASE_URL=PUBLIC + "/", TRUSTED_HOSTS=[INTERNAL])
    assert app.config["TRUSTED_HOSTS"] == ["wenming.example.cn", INTERNAL]
    client = app.test_client()
    assert client.get("/api/v1/openapi.json", base_url=PUBLIC).status_code == 200
    assert client.get("/api/v1/openapi.json", base_url="http://evil.example").status_code == 400
