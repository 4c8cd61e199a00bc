import datetime as dt
import json
import socket

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.utils import timezone
from rest_framework.test import APIClient

from bigstock.models import PartnerEvent, WebhookDelivery, WebhookEndpoint
from partners import api as partners_api
from partners import services
from partners.audit import SYSTEM
from partners.models import AuditLogEntry, Partner, Role
from partners.throttling import PartnerRateThrottle
from tests.bigstock.test_api_errors import assert_error_format
from tests.factories import (
    MembershipFactory,
    PartnerEventFactory,
    PartnerFactory,
    UserFactory,
    WebhookAttemptFactory,
    WebhookDeliveryFactory,
    WebhookEndpointFactory,
    make_api_key,
)

pytestmark = pytest.mark.django_db

PUBLIC_ADDRESS = "93.184.215.14"


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    cache.clear()  # throttle counters are keyed by database ids, which tests reuse


@pytest.fixture
def public_dns(monkeypatch):
    """Every host name resolves to one public address (IP literals still resolve to themselves)."""
    real_getaddrinfo = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        if host.replace(".", "").isdigit() or ":" in host:
            return real_getaddrinfo(host, port, *args, **kwargs)
        return [(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (PUBLIC_ADDRESS, port))]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


class Caller:
    """A partner, its owner and an API key, and a client speaking English with that key."""

    def __init__(self, *, scopes=("read", "write"), **partner_fields):
        self.partner = PartnerFactory(**partner_fields)
        self.owner = MembershipFactory(partner=self.partner, role=Role.OWNER)
        self.key, self.secret = make_api_key(self.partner, scopes=scopes, created_by=self.owner)
        self.client = APIClient(HTTP_ACCEPT_LANGUAGE="en")
        self.client.credentials(HTTP_AUTHORIZATION=f"Bearer {self.secret}")


def session_client(membership) -> APIClient:
    client = APIClient(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(membership.user)
    return client


def past_settle_delay(time_machine):
    time_machine.move_to(timezone.now() + partners_api.EVENT_SETTLE_DELAY + dt.timedelta(seconds=1))


# --- The partner ---------------------------------------------------------------------------


def test_partner_endpoint_describes_the_calling_partner_with_public_ids_and_utc_times():
    caller = Caller(vat_number="FR44732829320", siret="73282932000074")
    response = caller.client.get("/api/v1/partner")
    assert response.status_code == 200
    body = response.json()
    partner = caller.partner
    assert body["id"] == partner.public_id
    assert body["siret"] == "73282932000074"
    assert body["siren"] == "732829320"
    assert body["vat_number"] == "FR44732829320"
    assert body["country"] == "FR"
    assert body["status"] == "active"
    assert body["require_2fa"] is False
    assert body["created_at"] == partner.created_at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    assert str(partner.pk) not in {str(value) for value in body.values()}


def test_the_partner_comes_from_the_key_never_from_the_request():
    caller, other = Caller(), PartnerFactory()
    response = caller.client.get(f"/api/v1/partner?partner={other.public_id}", HTTP_X_PARTNER=other.public_id)
    assert response.json()["id"] == caller.partner.public_id


def test_a_signed_in_user_reads_their_current_partner():
    membership = MembershipFactory(role=Role.MEMBER)
    response = session_client(membership).get("/api/v1/partner")
    assert response.json()["id"] == membership.partner.public_id


def test_owner_updates_the_profile_with_identifiers_normalised_and_audited():
    caller = Caller()
    response = session_client(caller.owner).patch(
        "/api/v1/partner", {"siret": "732 829 320 00074", "trade_name": "Durand"}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["siret"] == "73282932000074"
    assert response.json()["trade_name"] == "Durand"
    entry = AuditLogEntry.objects.get(partner=caller.partner, action="partner.updated")
    assert entry.actor_user == caller.owner.user


def test_an_invalid_identifier_is_refused_field_by_field():
    caller = Caller()
    response = caller.client.patch("/api/v1/partner", {"siret": "73282932000075"}, format="json")
    error = assert_error_format(response, 400, "invalid")
    assert "wrong check digit" in " ".join(error["fields"]["siret"])


def test_a_member_cannot_change_the_profile_and_is_told_who_can():
    member = MembershipFactory(role=Role.MEMBER)
    response = session_client(member).patch("/api/v1/partner", {"trade_name": "Mine"}, format="json")
    error = assert_error_format(response, 403, "permission_denied")
    assert error["message"] == "Only owners and admins can change the business profile."
    member.partner.refresh_from_db()
    assert member.partner.trade_name != "Mine"


# --- Credentials -----------------------------------------------------------------------------


def test_a_call_without_credentials_is_refused_in_the_error_format():
    response = APIClient().get("/api/v1/partner")
    assert_error_format(response, 401, "not_authenticated")


@pytest.mark.parametrize(
    ("problem", "code"),
    [("unknown", "api_key_unknown"), ("malformed", "api_key_unknown"), ("empty", "api_key_unknown"),
     ("revoked", "api_key_revoked"), ("expired", "api_key_expired")],
)
def test_a_bad_key_is_refused_with_a_code_that_says_why(problem, code, time_machine):
    caller = Caller()
    header = {
        "unknown": f"Bearer bsk_{caller.key.prefix}_not-the-secret",
        "malformed": "Bearer some-token",
        "empty": "Bearer ",
    }.get(problem, f"Bearer {caller.secret}")
    if problem == "revoked":
        services.revoke_api_key(key=caller.key, membership=caller.owner, actor=SYSTEM)
    if problem == "expired":
        caller.key.expires_at = timezone.now() + dt.timedelta(hours=1)
        caller.key.save()
        time_machine.move_to(timezone.now() + dt.timedelta(hours=2))
    response = APIClient(HTTP_ACCEPT_LANGUAGE="en").get("/api/v1/partner", HTTP_AUTHORIZATION=header)
    error = assert_error_format(response, 401, code)
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'
    if problem in ("revoked", "expired"):
        assert "Create a new one in the portal." in error["message"]


def test_a_read_only_key_cannot_write():
    caller = Caller(scopes=["read"])
    assert caller.client.get("/api/v1/webhook-endpoints").status_code == 200
    response = caller.client.post("/api/v1/webhook-endpoints", {"url": "https://hooks.example.com"}, format="json")
    error = assert_error_format(response, 403, "permission_denied")
    assert error["message"] == "This API key does not have the write scope."
    assert not WebhookEndpoint.objects.exists()


def test_a_user_without_a_partner_is_told_so():
    client = APIClient(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(UserFactory())
    error = assert_error_format(client.get("/api/v1/members"), 403, "permission_denied")
    assert error["message"] == "Your account does not belong to any partner yet."


def test_a_key_over_its_rate_gets_429_in_the_error_format(monkeypatch):
    monkeypatch.setattr(PartnerRateThrottle, "THROTTLE_RATES", {"anon": "60/min", "user": "600/min", "api_key": "2/min"})
    caller = Caller()
    statuses = [caller.client.get("/api/v1/partner").status_code for _ in range(2)]
    assert statuses == [200, 200]
    error = assert_error_format(caller.client.get("/api/v1/partner"), 429, "throttled")
    assert 0 < error["retry_after_s"] <= 60
    assert Caller().client.get("/api/v1/partner").status_code == 200  # another key has its own budget


def test_a_keys_rate_is_its_partners_plan_rate_and_follows_a_plan_change():
    from subscriptions import services as subscriptions
    from tests.factories import PlanFactory

    caller = Caller()
    subscription = subscriptions.subscribe(partner=caller.partner, plan=PlanFactory(api_rate_per_min=2), actor=SYSTEM)
    assert [caller.client.get("/api/v1/partner").status_code for _ in range(3)] == [200, 200, 429]
    subscription.plan = PlanFactory(api_rate_per_min=100)  # saved in this process: seen at once
    subscription.save()
    assert caller.client.get("/api/v1/partner").status_code == 200


# --- The team --------------------------------------------------------------------------------


def test_members_list_shows_the_team_with_roles_and_no_database_ids():
    caller = Caller()
    admin = MembershipFactory(partner=caller.partner, role=Role.ADMIN)
    MembershipFactory(role=Role.OWNER)  # someone else's team
    body = caller.client.get("/api/v1/members").json()
    rows = {row["email"]: row for row in body["results"]}
    assert set(rows) == {caller.owner.user.email, admin.user.email}
    assert rows[admin.user.email]["role"] == "admin"
    assert rows[admin.user.email]["joined_at"].endswith("Z")
    assert set(rows[admin.user.email]) == {"email", "first_name", "last_name", "role", "joined_at"}


def test_members_list_takes_a_bounded_number_of_queries(django_assert_max_num_queries):
    caller = Caller()
    MembershipFactory.create_batch(60, partner=caller.partner, role=Role.MEMBER)
    with django_assert_max_num_queries(5):
        response = caller.client.get("/api/v1/members?limit=100")
    assert len(response.json()["results"]) == 61


# --- Webhook endpoints -------------------------------------------------------------------------


def test_a_new_endpoint_shows_its_secret_once_and_never_again(public_dns):
    caller = Caller()
    response = caller.client.post(
        "/api/v1/webhook-endpoints",
        {"url": "https://hooks.shop.example/bigstock", "description": "ERP", "event_types": ["partner.updated"]},
        format="json",
    )
    assert response.status_code == 201
    created = response.json()
    endpoint = WebhookEndpoint.objects.get(partner=caller.partner)
    assert created["id"] == endpoint.public_id
    assert created["secret"] == endpoint.secret
    assert created["secret"].startswith("whsec_")
    assert created["event_types"] == ["partner.updated"]

    detail = caller.client.get(f"/api/v1/webhook-endpoints/{endpoint.public_id}")
    listing = caller.client.get("/api/v1/webhook-endpoints")
    for later in (detail, listing):
        assert later.status_code == 200
        assert endpoint.secret not in later.content.decode()
        assert "secret" not in later.content.decode()
    entry = AuditLogEntry.objects.get(partner=caller.partner, action="webhook_endpoint.created")
    assert entry.actor_api_key == caller.key
    assert endpoint.secret not in str(entry.data)


def test_retrying_a_create_with_the_same_idempotency_key_creates_one_endpoint(public_dns):
    caller = Caller()
    body = {"url": "https://hooks.shop.example/bigstock"}
    first = caller.client.post("/api/v1/webhook-endpoints", body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    again = caller.client.post("/api/v1/webhook-endpoints", body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert again["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]
    assert WebhookEndpoint.objects.filter(partner=caller.partner).count() == 1


@pytest.mark.parametrize(
    ("url", "code", "reason"),
    [
        ("http://hooks.shop.example/bigstock", "webhook_url_insecure", "must use https"),
        ("https://10.0.0.5/hook", "webhook_url_private", "private address 10.0.0.5"),
        ("https://127.0.0.1/hook", "webhook_url_private", "loopback address"),
        ("https://169.254.169.254/latest", "webhook_url_private", "link-local address"),
        ("not a url", "webhook_url_invalid", "valid URL"),
    ],
)
def test_endpoint_urls_bigstock_must_not_call_are_refused_with_the_reason(public_dns, url, code, reason):
    caller = Caller()
    response = caller.client.post("/api/v1/webhook-endpoints", {"url": url}, format="json")
    error = assert_error_format(response, 400, code)
    assert reason in error["message"]
    assert error["fields"]["url"]
    assert not WebhookEndpoint.objects.exists()


def test_unknown_event_types_are_refused(public_dns):
    caller = Caller()
    response = caller.client.post(
        "/api/v1/webhook-endpoints", {"url": "https://hooks.shop.example", "event_types": ["order.eaten"]}, format="json"
    )
    error = assert_error_format(response, 400, "webhook_event_type_unknown")
    assert "order.eaten" in error["fields"]["event_types"][0]


def test_an_endpoint_can_be_changed_disabled_and_deleted(public_dns):
    caller = Caller()
    endpoint = WebhookEndpointFactory(partner=caller.partner)
    url = f"/api/v1/webhook-endpoints/{endpoint.public_id}"
    response = caller.client.patch(url, {"description": "Shop", "enabled": False}, format="json")
    assert response.status_code == 200
    assert response.json()["description"] == "Shop"
    assert response.json()["enabled"] is False
    assert caller.client.put(url, {"url": "https://x.example"}, format="json").status_code == 405

    response = caller.client.delete(url)
    assert response.status_code == 204
    assert not WebhookEndpoint.objects.filter(pk=endpoint.pk).exists()
    assert_error_format(caller.client.get(url), 404, "not_found")
    actions = set(AuditLogEntry.objects.filter(partner=caller.partner).values_list("action", flat=True))
    assert {"webhook_endpoint.updated", "webhook_endpoint.deleted"} <= actions


def test_a_member_may_read_webhooks_but_not_manage_them_and_is_told_who_can():
    member = MembershipFactory(role=Role.MEMBER)
    endpoint = WebhookEndpointFactory(partner=member.partner)
    client = session_client(member)
    assert client.get("/api/v1/webhook-endpoints").status_code == 200
    for method, url in [
        ("post", "/api/v1/webhook-endpoints"),
        ("patch", f"/api/v1/webhook-endpoints/{endpoint.public_id}"),
        ("delete", f"/api/v1/webhook-endpoints/{endpoint.public_id}"),
        ("post", f"/api/v1/webhook-endpoints/{endpoint.public_id}/test"),
    ]:
        response = getattr(client, method)(url, {"url": "https://hooks.example.com"}, format="json")
        error = assert_error_format(response, 403, "permission_denied")
        assert error["message"] == "Only owners and admins can manage webhooks."
    assert WebhookEndpoint.objects.filter(partner=member.partner).count() == 1


def test_an_admin_session_manages_webhooks(public_dns):
    admin = MembershipFactory(role=Role.ADMIN)
    response = session_client(admin).post("/api/v1/webhook-endpoints", {"url": "https://h.example"}, format="json")
    assert response.status_code == 201
    entry = AuditLogEntry.objects.get(action="webhook_endpoint.created")
    assert (entry.partner, entry.actor_user) == (admin.partner, admin.user)


def test_another_partners_endpoint_is_not_found():
    caller = Caller()
    theirs = WebhookEndpointFactory()
    response = caller.client.get(f"/api/v1/webhook-endpoints/{theirs.public_id}")
    assert_error_format(response, 404, "not_found")


def test_a_test_event_is_queued_and_shows_in_the_endpoints_deliveries():
    caller = Caller()
    endpoint = WebhookEndpointFactory(partner=caller.partner)
    response = caller.client.post(f"/api/v1/webhook-endpoints/{endpoint.public_id}/test")
    assert response.status_code == 202
    delivery = response.json()
    assert delivery["status"] == "pending"
    assert delivery["endpoint"] == endpoint.public_id
    assert delivery["event"]["type"] == "webhook.test"
    listed = caller.client.get(f"/api/v1/webhook-endpoints/{endpoint.public_id}/deliveries").json()["results"]
    assert [row["id"] for row in listed] == [delivery["id"]]


def test_a_disabled_endpoint_refuses_a_test_event():
    caller = Caller()
    endpoint = WebhookEndpointFactory(partner=caller.partner, enabled=False)
    response = caller.client.post(f"/api/v1/webhook-endpoints/{endpoint.public_id}/test")
    assert_error_format(response, 409, "webhook_endpoint_disabled")


def test_deliveries_show_their_attempts_and_can_be_filtered_by_status():
    caller = Caller()
    endpoint = WebhookEndpointFactory(partner=caller.partner)
    failed = WebhookDeliveryFactory(endpoint=endpoint, status="failed")
    WebhookAttemptFactory(delivery=failed, status_code=503, error="")
    WebhookDeliveryFactory(endpoint=endpoint, status="succeeded", last_status_code=200)
    response = caller.client.get(f"/api/v1/webhook-endpoints/{endpoint.public_id}/deliveries?status=failed")
    rows = response.json()["results"]
    assert [row["id"] for row in rows] == [failed.public_id]
    assert rows[0]["event"]["id"] == failed.event.public_id
    assert rows[0]["attempts"][0]["status_code"] == 503
    assert rows[0]["attempts"][0]["attempted_at"].endswith("Z")
    bad = caller.client.get(f"/api/v1/webhook-endpoints/{endpoint.public_id}/deliveries?status=lost")
    assert "status" in assert_error_format(bad, 400, "invalid")["fields"]


def test_deliveries_list_takes_a_bounded_number_of_queries(django_assert_max_num_queries):
    caller = Caller()
    endpoint = WebhookEndpointFactory(partner=caller.partner)
    for delivery in WebhookDeliveryFactory.create_batch(40, endpoint=endpoint):
        WebhookAttemptFactory.create_batch(2, delivery=delivery)
    with django_assert_max_num_queries(6):
        response = caller.client.get(f"/api/v1/webhook-endpoints/{endpoint.public_id}/deliveries?limit=50")
    assert len(response.json()["results"]) == 40


def test_webhook_endpoints_list_takes_a_bounded_number_of_queries(django_assert_max_num_queries):
    caller = Caller()
    WebhookEndpointFactory.create_batch(30, partner=caller.partner)
    with django_assert_max_num_queries(4):
        response = caller.client.get("/api/v1/webhook-endpoints")
    assert len(response.json()["results"]) == 30


def test_a_failed_delivery_can_be_sent_again_as_a_new_delivery():
    caller = Caller()
    failed = WebhookDeliveryFactory(endpoint=WebhookEndpointFactory(partner=caller.partner))
    response = caller.client.post(f"/api/v1/webhook-deliveries/{failed.public_id}/redeliver")
    assert response.status_code == 202
    again = WebhookDelivery.objects.get(public_id=response.json()["id"])
    assert again.pk != failed.pk
    assert again.event == failed.event
    assert caller.client.get(f"/api/v1/webhook-deliveries/{failed.public_id}").json()["status"] == "failed"


# --- Events ----------------------------------------------------------------------------------------


def test_the_event_feed_is_oldest_first_and_resumes_after_a_cursor(time_machine):
    caller = Caller()
    created = [PartnerEventFactory(partner=caller.partner, payload={"n": n}) for n in range(5)]
    PartnerEventFactory()  # another partner's
    past_settle_delay(time_machine)

    first = caller.client.get("/api/v1/events?limit=2").json()
    assert [event["id"] for event in first["results"]] == [e.public_id for e in created[:2]]
    assert first["has_more"] is True
    assert first["results"][0] == {
        "id": created[0].public_id, "type": "partner.updated", "data": {"n": 0},
        "created_at": created[0].created_at.astimezone(dt.UTC).isoformat().replace("+00:00", "Z"),
    }
    second = caller.client.get(first["next"]).json()
    assert [event["id"] for event in second["results"]] == [e.public_id for e in created[2:4]]
    last = caller.client.get(second["next"]).json()
    assert [event["id"] for event in last["results"]] == [created[4].public_id]
    assert last["has_more"] is False

    # Nothing new: the same cursor comes back, to poll again later.
    idle = caller.client.get(last["next"]).json()
    assert idle["results"] == []
    assert f"after={created[4].public_id}" in idle["next"]
    newer = PartnerEventFactory(partner=caller.partner)
    past_settle_delay(time_machine)
    assert [e["id"] for e in caller.client.get(idle["next"]).json()["results"]] == [newer.public_id]


def test_the_feed_lists_an_event_only_once_it_has_settled(time_machine):
    caller = Caller()
    event = PartnerEventFactory(partner=caller.partner)
    assert caller.client.get("/api/v1/events").json()["results"] == []
    past_settle_delay(time_machine)
    assert [e["id"] for e in caller.client.get("/api/v1/events").json()["results"]] == [event.public_id]


@pytest.mark.parametrize("whose", ["nobody", "another partner"])
def test_an_unknown_cursor_is_a_400_not_a_crash(whose):
    caller = Caller()
    after = PartnerEventFactory().public_id if whose == "another partner" else "evt_doesnotexist"
    response = caller.client.get(f"/api/v1/events?after={after}")
    error = assert_error_format(response, 400, "invalid_cursor")
    assert error["fields"]["after"] == ["Unknown event id."]


@pytest.mark.parametrize("limit", ["0", "201", "many"])
def test_the_feed_limit_is_between_1_and_200(limit):
    response = Caller().client.get(f"/api/v1/events?limit={limit}")
    assert "limit" in assert_error_format(response, 400, "invalid")["fields"]


def test_an_event_can_be_read_by_id():
    caller = Caller()
    event = PartnerEventFactory(partner=caller.partner, type="partner.approved")
    body = caller.client.get(f"/api/v1/events/{event.public_id}").json()
    assert (body["id"], body["type"]) == (event.public_id, "partner.approved")


def test_the_event_feed_takes_a_bounded_number_of_queries(django_assert_max_num_queries, time_machine):
    caller = Caller()
    events = PartnerEventFactory.create_batch(150, partner=caller.partner)
    past_settle_delay(time_machine)
    caller.client.get("/api/v1/events?limit=1")  # the key and its plan are then cached, as in steady use
    with django_assert_max_num_queries(2):
        response = caller.client.get(f"/api/v1/events?after={events[9].public_id}&limit=200")
    assert len(response.json()["results"]) == 140


def test_partner_approval_reaches_the_feed(time_machine, django_capture_on_commit_callbacks):
    caller = Caller(status=Partner.Status.PENDING)
    services.set_partner_status(partner=caller.partner, status=Partner.Status.ACTIVE, actor=SYSTEM)
    past_settle_delay(time_machine)
    types = [e["type"] for e in caller.client.get("/api/v1/events").json()["results"]]
    assert types == ["partner.approved"]
    assert PartnerEvent.objects.filter(partner=caller.partner).count() == 1


# --- OpenAPI ------------------------------------------------------------------------------------


def test_the_schema_documents_every_partner_endpoint_with_errors_and_no_warnings(tmp_path):
    path = tmp_path / "schema.json"
    call_command("spectacular", "--fail-on-warn", "--validate", "--format", "openapi-json", "--file", str(path))
    schema = json.loads(path.read_text())
    paths = schema["paths"]
    for url in ["/api/v1/partner", "/api/v1/members", "/api/v1/webhook-endpoints", "/api/v1/webhook-endpoints/{id}",
                "/api/v1/webhook-endpoints/{id}/test", "/api/v1/webhook-endpoints/{id}/deliveries",
                "/api/v1/webhook-deliveries/{id}/redeliver", "/api/v1/events", "/api/v1/events/{id}"]:
        assert url in paths
    assert {"401", "403", "404", "429"} <= set(paths["/api/v1/webhook-endpoints/{id}"]["get"]["responses"])
    assert "400" in paths["/api/v1/events"]["get"]["responses"]
    assert "secret" in schema["components"]["schemas"]["WebhookEndpointCreated"]["properties"]
    assert "secret" not in schema["components"]["schemas"]["WebhookEndpoint"]["properties"]
    assert schema["components"]["securitySchemes"]["apiKey"]["scheme"] == "bearer"


def test_a_rate_is_kept_exactly_within_a_window_and_answers_with_retry_after(time_machine):
    from subscriptions import services as subscriptions
    from tests.factories import PlanFactory

    time_machine.move_to(dt.datetime(2026, 3, 2, 9, 0, 1, tzinfo=dt.UTC), tick=False)
    caller = Caller()
    subscriptions.subscribe(partner=caller.partner, plan=PlanFactory(api_rate_per_min=45), actor=SYSTEM)
    statuses = [caller.client.get("/api/v1/partner").status_code for _ in range(46)]
    assert statuses == [200] * 45 + [429]  # leases of 2 requests, the last one cut to what is left
    assert caller.client.get("/api/v1/partner")["Retry-After"] == "59"
    time_machine.move_to(dt.datetime(2026, 3, 2, 9, 1, 0, tzinfo=dt.UTC), tick=False)
    assert caller.client.get("/api/v1/partner").status_code == 200  # a new window
