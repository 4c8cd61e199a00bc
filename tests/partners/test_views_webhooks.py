import pytest

from bigstock.models import WebhookDelivery, WebhookEndpoint
from partners import services
from partners.audit import SYSTEM
from partners.models import Role
from tests.factories import MembershipFactory, PartnerFactory

pytestmark = pytest.mark.django_db

URL = "https://127.0.0.1/bigstock-hook"


@pytest.fixture(autouse=True)
def _loopback_is_reachable(settings):
    """127.0.0.1 resolves without DNS; nothing is sent (deliveries are queued after commit)."""
    settings.BIGSTOCK_WEBHOOKS_ALLOW_LOOPBACK = True


@pytest.fixture
def client(client):
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


def _login(client, role=Role.OWNER):
    membership = MembershipFactory(role=role)
    client.force_login(membership.user)
    return membership


def _endpoint(partner, **kwargs):
    endpoint, _secret = services.create_webhook_endpoint(
        partner=partner, membership=None, url=kwargs.pop("url", URL), actor=SYSTEM, **kwargs
    )
    return endpoint


def test_new_endpoint_secret_is_shown_once(client):
    owner = _login(client)
    response = client.post(
        "/webhooks/", {"url": URL, "description": "ERP", "event_types": ["member.added", "partner.approved"]}
    )
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    endpoint = WebhookEndpoint.objects.get(partner=owner.partner)
    assert endpoint.event_types == ["member.added", "partner.approved"]
    secret = response.context["secret"]
    assert secret.startswith("whsec_")
    html = response.content.decode()
    assert f'value="{secret}"' in html
    assert "from standardwebhooks.webhooks import Webhook" in html

    html = client.get(f"/webhooks/{endpoint.public_id}/").content.decode()
    assert secret not in html
    assert URL in html
    assert secret not in client.get("/webhooks/").content.decode()


def test_no_event_type_ticked_means_every_event(client):
    owner = _login(client)
    client.post("/webhooks/", {"url": URL})
    assert WebhookEndpoint.objects.get(partner=owner.partner).event_types == []
    assert "All events" in client.get("/webhooks/").content.decode()


def test_private_url_is_refused_with_the_reason_on_the_url_field(client, settings):
    settings.DEBUG = False
    owner = _login(client)
    response = client.post("/webhooks/", {"url": "https://10.0.0.1/hook"})
    assert response.status_code == 200
    errors = response.context["form"].errors["url"]
    assert errors == ["The host resolves to a private address 10.0.0.1, which webhooks cannot reach."]
    assert not WebhookEndpoint.objects.filter(partner=owner.partner).exists()


def test_http_url_is_refused_in_production(client, settings):
    settings.DEBUG = False
    settings.BIGSTOCK_WEBHOOKS_ALLOW_LOOPBACK = False
    _login(client)
    response = client.post("/webhooks/", {"url": "http://93.184.215.14/hook"})
    assert "The URL must use https" in response.context["form"].errors["url"][0]


def test_another_partners_endpoint_is_not_found(client):
    _login(client)
    endpoint = _endpoint(PartnerFactory())
    delivery = services.send_test_webhook(endpoint=endpoint, membership=None, actor=SYSTEM)
    base = f"/webhooks/{endpoint.public_id}"
    assert client.get(f"{base}/").status_code == 404
    for action in ["test", "delete", "enabled"]:
        assert client.post(f"{base}/{action}/").status_code == 404
    assert client.post(f"{base}/deliveries/{delivery.public_id}/redeliver/").status_code == 404
    assert WebhookDelivery.objects.filter(endpoint=endpoint).count() == 1
    assert WebhookEndpoint.objects.filter(pk=endpoint.pk, enabled=True).exists()


def test_a_delivery_of_another_endpoint_is_not_found_under_mine(client):
    owner = _login(client)
    mine = _endpoint(owner.partner)
    other = _endpoint(PartnerFactory())
    delivery = services.send_test_webhook(endpoint=other, membership=None, actor=SYSTEM)
    response = client.post(f"/webhooks/{mine.public_id}/deliveries/{delivery.public_id}/redeliver/")
    assert response.status_code == 404


def test_send_test_event_then_redeliver_creates_deliveries(client):
    owner = _login(client)
    endpoint = _endpoint(owner.partner)
    response = client.post(f"/webhooks/{endpoint.public_id}/test/", follow=True)
    delivery = WebhookDelivery.objects.get(endpoint=endpoint)
    assert delivery.event.type == "webhook.test"
    html = response.content.decode()
    assert "A test event is on its way" in html
    assert f"/deliveries/{delivery.public_id}/redeliver/" in html

    client.post(f"/webhooks/{endpoint.public_id}/deliveries/{delivery.public_id}/redeliver/")
    deliveries = WebhookDelivery.objects.filter(endpoint=endpoint)
    assert deliveries.count() == 2
    assert {d.event_id for d in deliveries} == {delivery.event_id}


def test_disabled_endpoint_refuses_a_test_event_with_a_message(client):
    owner = _login(client)
    endpoint = _endpoint(owner.partner)
    client.post(f"/webhooks/{endpoint.public_id}/enabled/", {"enabled": "0"})
    endpoint.refresh_from_db()
    assert not endpoint.enabled
    response = client.post(f"/webhooks/{endpoint.public_id}/test/", follow=True)
    assert "This endpoint is disabled: enable it first." in response.content.decode()
    assert not WebhookDelivery.objects.filter(endpoint=endpoint).exists()
    client.post(f"/webhooks/{endpoint.public_id}/enabled/", {"enabled": "1"})
    endpoint.refresh_from_db()
    assert endpoint.enabled


def test_edit_and_delete_an_endpoint(client):
    owner = _login(client)
    endpoint = _endpoint(owner.partner)
    response = client.post(
        f"/webhooks/{endpoint.public_id}/", {"url": URL, "description": "Shop", "event_types": ["member.added"]}
    )
    assert response.status_code == 302
    endpoint.refresh_from_db()
    assert (endpoint.description, endpoint.event_types) == ("Shop", ["member.added"])
    client.post(f"/webhooks/{endpoint.public_id}/delete/")
    assert not WebhookEndpoint.objects.filter(pk=endpoint.pk).exists()


def test_deliveries_show_each_attempt(client):
    owner = _login(client)
    endpoint = _endpoint(owner.partner)
    delivery = services.send_test_webhook(endpoint=endpoint, membership=None, actor=SYSTEM)
    delivery.attempts.create(status_code=500, duration_ms=123, response_body="Internal error " * 100)
    html = client.get(f"/webhooks/{endpoint.public_id}/").content.decode()
    assert "1 attempt" in html
    assert "HTTP 500" in html
    assert "123 ms" in html
    assert "Internal error " * 30 in html
    assert "Internal error " * 40 not in html  # truncated


def test_a_member_gets_403_on_webhooks(client):
    member = _login(client, role=Role.MEMBER)
    endpoint = _endpoint(member.partner)
    assert client.get("/webhooks/").status_code == 403
    assert client.get(f"/webhooks/{endpoint.public_id}/").status_code == 403
    assert client.post(f"/webhooks/{endpoint.public_id}/delete/").status_code == 403
    assert WebhookEndpoint.objects.filter(pk=endpoint.pk).exists()


def test_endpoint_page_query_count_does_not_grow_with_deliveries(client, django_assert_max_num_queries):
    owner = _login(client)
    endpoint = _endpoint(owner.partner)
    for _number in range(20):
        delivery = services.send_test_webhook(endpoint=endpoint, membership=None, actor=SYSTEM)
        delivery.attempts.create(status_code=200, duration_ms=10)
    with django_assert_max_num_queries(14):
        assert client.get(f"/webhooks/{endpoint.public_id}/").status_code == 200
