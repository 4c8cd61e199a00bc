import datetime as dt

import pytest

from subscriptions import standing
from tests.factories import MembershipFactory, make_api_key

pytestmark = pytest.mark.django_db

ENDPOINT = {"url": "https://hooks.example.com/bigstock"}


@pytest.fixture(autouse=True)
def _public_dns(monkeypatch):
    import socket

    monkeypatch.setattr(socket, "getaddrinfo", lambda *a, **k: [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.215.14", 443))])


def call(client, secret, method="post"):
    return getattr(client, method)("/api/v1/webhook-endpoints", ENDPOINT, content_type="application/json",
                                   HTTP_AUTHORIZATION=f"Bearer {secret}", HTTP_ACCEPT_LANGUAGE="en")


def test_after_the_transition_a_partner_without_subscription_reads_but_cannot_write(client, settings):
    settings.BIGSTOCK_TRANSITION_DATE = dt.date(2020, 1, 1)
    partner = MembershipFactory().partner
    standing.refresh(partner=partner)
    _key, secret = make_api_key(partner)
    response = call(client, secret)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "standing_read_only"
    assert "subscribe" in response.json()["error"]["message"]
    assert call(client, secret, method="get").status_code == 200


def test_an_active_partner_can_write(client, settings):
    settings.BIGSTOCK_TRANSITION_DATE = dt.date(2099, 1, 1)
    partner = MembershipFactory().partner
    standing.refresh(partner=partner)
    _key, secret = make_api_key(partner)
    assert call(client, secret).status_code == 201
