"""The support API: open, list, read, reply, reopen, rate; never an internal note."""

import pytest
from django.core import mail
from django.test import Client

from partners.audit import Actor
from support import services
from support.models import Status, Ticket
from tests.factories import MembershipFactory, PartnerFactory, make_api_key
from tests.support.conftest import make_order

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(partner, owner):
    _key, secret = make_api_key(partner, created_by=owner)
    return Client(HTTP_AUTHORIZATION=f"Bearer {secret}", HTTP_ACCEPT_LANGUAGE="en")


def test_open_a_ticket_about_an_order(api, partner):
    order = make_order(partner, reference="CMD-1")
    response = api.post("/api/v1/tickets", {"subject": "Parcel stuck", "category": "order", "order": "CMD-1",
                                            "body": "Nothing moves."}, content_type="application/json")
    assert response.status_code == 201, response.content
    body = response.json()
    ticket = Ticket.objects.get()
    assert body["id"] == ticket.public_id and body["reference"] == ticket.reference
    assert body["order"] == order.public_id and body["status"] == "open" and body["priority"] == "normal"
    assert body["first_response_due_at"].endswith("Z")
    assert body["opened_by"].startswith("API key")
    [message] = body["messages"]
    assert (message["author"], message["body"], message["source"]) == ("partner", "Nothing moves.", "api")
    assert ticket.opened_by_api_key is not None


def test_another_partners_order_is_a_field_error(api):
    theirs = make_order(PartnerFactory(), reference="THEIRS-1")
    response = api.post("/api/v1/tickets", {"subject": "x", "body": "y", "order": theirs.public_id},
                        content_type="application/json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "order_not_found" and "order" in error["fields"]


def test_list_with_filters_and_few_queries(api, open_ticket, staff, django_assert_max_num_queries):
    for number in range(40):
        open_ticket(subject=f"Question {number}", category="billing" if number % 2 else "stock")
    closed = open_ticket(subject="Old")
    services.close_ticket(ticket=closed, by=staff)
    with django_assert_max_num_queries(8):
        response = api.get("/api/v1/tickets?limit=100")
    assert len(response.json()["results"]) == 41
    assert {t["category"] for t in api.get("/api/v1/tickets?category=billing&limit=100").json()["results"]} == {
        "billing"}
    assert [t["id"] for t in api.get("/api/v1/tickets?status=closed").json()["results"]] == [closed.public_id]
    assert api.get("/api/v1/tickets?status=nope").status_code == 400


def test_retrieve_shows_the_thread_without_internal_notes(api, open_ticket, staff, django_assert_max_num_queries):
    ticket = open_ticket()
    services.reply_as_staff(ticket=ticket, by=staff, body="SECRET note", internal=True)
    services.reply_as_staff(ticket=ticket, by=staff, body="Fixed soon")
    with django_assert_max_num_queries(10):
        response = api.get(f"/api/v1/tickets/{ticket.public_id}")
    body = response.json()
    assert [m["body"] for m in body["messages"]] == ["The tracking has not moved.", "Fixed soon"]
    assert "SECRET" not in response.content.decode()
    messages = api.get(f"/api/v1/tickets/{ticket.public_id}/messages").json()["results"]
    assert [m["author"] for m in messages] == ["partner", "staff"]
    assert "SECRET" not in str(messages)


def test_reply_and_the_closed_ticket_refusal(api, open_ticket, staff):
    ticket = open_ticket()
    response = api.post(f"/api/v1/tickets/{ticket.public_id}/messages", {"body": "More info"},
                        content_type="application/json")
    assert response.status_code == 201 and response.json()["body"] == "More info"
    services.close_ticket(ticket=ticket, by=staff)
    response = api.post(f"/api/v1/tickets/{ticket.public_id}/messages", {"body": "Again"},
                        content_type="application/json")
    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "ticket_closed" and error["can_reopen"] is True
    response = api.post(f"/api/v1/tickets/{ticket.public_id}/reopen", {"body": "Again"},
                        content_type="application/json")
    assert response.status_code == 200 and response.json()["status"] == Status.WAITING_ON_STAFF
    assert response.json()["messages"][-1]["body"] == "Again"


def test_rate_after_closing(api, open_ticket, staff):
    ticket = open_ticket()
    url = f"/api/v1/tickets/{ticket.public_id}/rating"
    assert api.post(url, {"rating": 5}, content_type="application/json").json()["error"]["code"] == "ticket_not_closed"
    services.close_ticket(ticket=ticket, by=staff)
    assert api.post(url, {"rating": 9}, content_type="application/json").status_code == 400
    response = api.post(url, {"rating": 4, "comment": "ok"}, content_type="application/json")
    assert (response.json()["rating"], response.json()["rating_comment"]) == (4, "ok")


def test_another_partners_ticket_is_not_found(api):
    other = MembershipFactory()
    theirs = services.open_ticket(partner=other.partner, actor=Actor(user=other.user), subject="x", body="y",
                                  category="other")
    for method, path in [("get", ""), ("get", "/messages"), ("post", "/messages"), ("post", "/reopen"),
                         ("post", "/rating")]:
        response = getattr(api, method)(f"/api/v1/tickets/{theirs.public_id}{path}", {"body": "x", "rating": 5},
                                        **({"content_type": "application/json"} if method == "post" else {}))
        assert response.status_code == 404, path
    assert theirs.messages.count() == 1


def test_a_read_only_key_cannot_open_tickets(partner, owner):
    _key, secret = make_api_key(partner, created_by=owner, scopes=("read",))
    response = Client(HTTP_AUTHORIZATION=f"Bearer {secret}").post(
        "/api/v1/tickets", {"subject": "x", "body": "y"}, content_type="application/json")
    assert response.status_code == 403


def test_a_suspended_partner_can_still_reach_support(api, partner, django_capture_on_commit_callbacks):
    from subscriptions.models import Standing

    Standing.objects.update_or_create(partner=partner, defaults={"level": Standing.Level.SUSPENDED})
    elsewhere = api.post("/api/v1/webhook-endpoints", {"url": "https://shop.example/hook"},
                         content_type="application/json")
    assert elsewhere.json()["error"]["code"] == "standing_read_only"  # the rest of the API is read-only
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post("/api/v1/tickets", {"subject": "Unblock my account", "category": "billing",
                                                "body": "We paid yesterday."}, content_type="application/json")
    assert response.status_code == 201
    assert mail.outbox[-1].to == ["team@bigstock.example"]


def test_an_idempotency_key_replays_the_creation(api):
    headers = {"HTTP_IDEMPOTENCY_KEY": "ticket-1"}
    first = api.post("/api/v1/tickets", {"subject": "x", "body": "y"}, content_type="application/json", **headers)
    second = api.post("/api/v1/tickets", {"subject": "x", "body": "y"}, content_type="application/json", **headers)
    assert first.json()["id"] == second.json()["id"] and second["Idempotent-Replayed"] == "true"
    assert Ticket.objects.count() == 1


def test_the_schema_documents_the_ticket_endpoints(client):
    schema = client.get("/api/v1/schema/", HTTP_ACCEPT="application/json").content.decode()
    for path in ("/api/v1/tickets", "/api/v1/tickets/{id}/messages", "/api/v1/tickets/{id}/reopen",
                 "/api/v1/tickets/{id}/rating", "/api/v1/ticket-attachments/{id}/content"):
        assert path in schema
    assert "ticket_closed" in schema and "attachment_type_not_allowed" in schema
