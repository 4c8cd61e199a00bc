"""The orders API: submit with Idempotency-Key, list, read, cancel, fix the address, recheck, shipments."""

import datetime as dt
import json

import pytest
from django.core.cache import cache
from django.utils import timezone, translation
from rest_framework.test import APIClient

from inventory.models import StockLevel
from orders import services
from orders.models import Order, Status
from partners.audit import SYSTEM
from partners.models import Role
from tests.bigstock.test_api_errors import assert_error_format
from tests.factories import (
    SHIP_TO,
    MembershipFactory,
    PartnerFactory,
    WarehouseFactory,
    make_api_key,
    make_product,
)
from tests.factories import submit as submit_order

pytestmark = pytest.mark.django_db

# Statements of one POST /api/v1/orders of 3 lines with an Idempotency-Key, API key auth, SQLite
# (PostgreSQL runs the same statements): BEGIN, the key's claim, a savepoint, products, locked
# levels, levels, movements, feed rows, order, lines, reservations, timeline, event, webhook
# endpoints, release, the stored answer, COMMIT. Measured: see test_submission_statement_count.
CREATE_STATEMENTS = 17


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    cache.clear()


class Caller:
    def __init__(self, *, scopes=("read", "write")):
        self.partner = PartnerFactory()
        self.owner = MembershipFactory(partner=self.partner, role=Role.OWNER)
        self.key, secret = make_api_key(self.partner, scopes=scopes, created_by=self.owner)
        self.client = APIClient(HTTP_ACCEPT_LANGUAGE="en")
        self.client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")

    def post(self, url, body, **headers):
        return self.client.post(url, json.dumps(body), content_type="application/json", **headers)


@pytest.fixture
def caller():
    return Caller()


@pytest.fixture
def stock():
    lyon = WarehouseFactory(code="lyon")
    make_product("TEA-1", stock={lyon: 10}, wholesale_price_cents=450)
    make_product("CUP-1", stock={lyon: 5}, wholesale_price_cents=1200)
    make_product("POT-1", stock={lyon: 3}, wholesale_price_cents=2500)
    return lyon


def order_body(reference="CMD-1", lines=(("TEA-1", 2), ("CUP-1", 1), ("POT-1", 1)), **changes):
    return {"reference": reference, "ship_to": dict(SHIP_TO), "notes": "Ring twice",
            "lines": [{"sku": sku, "quantity": quantity} for sku, quantity in lines], **changes}


def reserved(sku):
    return StockLevel.objects.get(product__sku=sku).reserved


# --- Submission -------------------------------------------------------------------------------------


def test_submitting_an_order_answers_201_with_its_public_id_lines_and_frozen_prices(caller, stock):
    response = caller.post("/api/v1/orders", order_body())
    assert response.status_code == 201, response.content
    body = response.json()
    order = Order.objects.get()
    assert body["id"] == order.public_id and body["id"].startswith("ord_")
    assert response["Location"] == f"http://testserver/api/v1/orders/{order.public_id}"
    assert caller.client.get(response["Location"]).json()["id"] == order.public_id  # it answers the order
    assert body["status"] == "submitted" and body["reference"] == "CMD-1"
    assert body["ship_to"]["postcode"] == "69003" and body["ship_to"]["country"] == "FR"
    assert body["lines"][0] == {"sku": "TEA-1", "quantity": 2, "quantity_reserved": 2, "quantity_backordered": 0,
                                "quantity_shipped": 0, "unit_price_cents": 450, "amount_cents": 900}
    assert (body["subtotal_cents"], body["currency"]) == (900 + 1200 + 2500, "EUR")
    assert body["submitted_at"].endswith("Z")
    assert order.source == "api" and order.created_by_label.startswith("API key")
    assert reserved("TEA-1") == 2


def test_submission_statement_count(caller, stock, django_assert_max_num_queries):
    caller.post("/api/v1/orders", order_body("WARM-UP", lines=[("TEA-1", 1)]))  # a key's first use is recorded
    with django_assert_max_num_queries(CREATE_STATEMENTS) as captured:
        response = caller.post("/api/v1/orders", order_body(), HTTP_IDEMPOTENCY_KEY="count-me")
    assert response.status_code == 201
    print(f"POST /api/v1/orders (3 lines, idempotency key): {len(captured)} statements")


def test_the_written_out_order_answer_equals_what_its_declared_fields_give(caller, stock):
    """``OrderSerializer.to_representation`` is written out for speed; the fields document it."""
    from rest_framework import serializers

    from orders.api import OrderSerializer

    submit_order(caller.partner, ("TEA-1", 2), ("CUP-1", 1), reference="CMD-X")
    order = Order.objects.prefetch_related("lines").get(reference="CMD-X")
    services.cancel_order(order=order, actor=SYSTEM, reason="test")  # more timestamps set
    order = Order.objects.prefetch_related("lines").get(reference="CMD-X")
    serializer = OrderSerializer()
    declared = serializers.Serializer.to_representation(serializer, order)
    assert serializer.to_representation(order) == declared
    assert list(serializer.to_representation(order)) == list(declared)  # in the same order too


def test_the_submitted_order_carries_its_lines_without_reading_them_again(caller, stock,
                                                                        django_assert_num_queries):
    order = submit_order(caller.partner, ("TEA-1", 2), ("CUP-1", 1))
    with django_assert_num_queries(0):
        lines = [(line.sku, line.quantity, line.quantity_reserved, line.pk is not None) for line in order.lines.all()]
    assert lines == [("TEA-1", 2, 2, True), ("CUP-1", 1, 1, True)]
    assert order.lines.get(sku="CUP-1").unit_price_cents == 1200  # a new query still reads the database


def test_a_replay_with_the_same_idempotency_key_answers_the_first_order_and_creates_no_other(caller, stock):
    first = caller.post("/api/v1/orders", order_body(), HTTP_IDEMPOTENCY_KEY="key-1")
    again = caller.post("/api/v1/orders", order_body(), HTTP_IDEMPOTENCY_KEY="key-1")
    assert (first.status_code, again.status_code) == (201, 201)
    assert again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert Order.objects.count() == 1 and reserved("TEA-1") == 2


def test_the_same_key_with_another_body_is_refused_with_422(caller, stock):
    caller.post("/api/v1/orders", order_body(), HTTP_IDEMPOTENCY_KEY="key-1")
    response = caller.post("/api/v1/orders", order_body("CMD-2"), HTTP_IDEMPOTENCY_KEY="key-1")
    assert_error_format(response, 422, "idempotency_key_reused")
    assert Order.objects.count() == 1


def test_a_duplicate_reference_answers_409_with_the_existing_order_id(caller, stock):
    first = caller.post("/api/v1/orders", order_body()).json()
    response = caller.post("/api/v1/orders", order_body(lines=[("TEA-1", 1)]))
    error = assert_error_format(response, 409, "duplicate_reference")
    assert error["existing_order_id"] == first["id"]
    assert error["fields"] == {"reference": ["Already used."]}
    assert reserved("TEA-1") == 2


def test_missing_stock_answers_409_with_the_available_quantities_and_reserves_nothing(caller, stock):
    response = caller.post("/api/v1/orders", order_body(lines=[("TEA-1", 2), ("CUP-1", 8)]))
    error = assert_error_format(response, 409, "insufficient_stock")
    assert error["lines"] == [{"sku": "CUP-1", "requested": 8, "available": 5}]
    assert not Order.objects.exists() and reserved("TEA-1") == 0


def test_backorder_accepts_the_order_with_what_is_in_stock(caller, stock):
    response = caller.post("/api/v1/orders", order_body(lines=[("CUP-1", 8)], backorder=True))
    assert response.status_code == 201
    line = response.json()["lines"][0]
    assert (line["quantity_reserved"], line["quantity_backordered"]) == (5, 3)


def test_an_unknown_sku_is_refused_naming_its_line(caller, stock):
    response = caller.post("/api/v1/orders", order_body(lines=[("TEA-1", 1), ("NOPE-9", 1)]))
    error = assert_error_format(response, 400, "unknown_sku")
    assert error["fields"] == {"lines[1].sku": ["Unknown SKU NOPE-9."]}
    assert error["skus"] == ["NOPE-9"]
    assert not Order.objects.exists()


@pytest.mark.parametrize(("change", "field"), [
    ({"ship_to": {**SHIP_TO, "postcode": ""}}, "ship_to.postcode"),
    ({"ship_to": {k: v for k, v in SHIP_TO.items() if k != "name"}}, "ship_to.name"),
    ({"ship_to": {**SHIP_TO, "country": "XX"}}, "ship_to.country"),
    ({"ship_to": {**SHIP_TO, "email": "not-an-email"}}, "ship_to.email"),
    ({"ship_to": {**SHIP_TO, "city": "x" * 101}}, "ship_to.city"),
    ({"ship_to": "5 rue des Lilas"}, "ship_to"),
    ({"lines": [{"sku": "TEA-1", "quantity": 0}]}, "lines[0].quantity"),
    ({"lines": [{"sku": "TEA-1", "quantity": 1}, {"sku": "CUP-1", "quantity": -2}]}, "lines[1].quantity"),
    ({"lines": [{"sku": "TEA-1", "quantity": "two"}]}, "lines[0].quantity"),
    ({"lines": [{"quantity": 1}]}, "lines[0].sku"),
    ({"lines": []}, "lines"),
    ({"lines": "TEA-1"}, "lines"),
    ({"reference": ""}, "reference"),
    ({"carrier_service": "teleport"}, "carrier_service"),
])
def test_bad_input_is_refused_field_by_field(caller, stock, change, field):
    response = caller.post("/api/v1/orders", {**order_body(), **change})
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert field in error["fields"], error
    assert all(isinstance(messages, list) for messages in error["fields"].values())
    assert not Order.objects.exists() and reserved("TEA-1") == 0


def test_refusals_come_in_each_requests_language_and_leave_nothing_for_the_next(caller, stock):
    # The input serializer instance is kept per thread between requests (bigstock.api.validated).
    french = APIClient(HTTP_ACCEPT_LANGUAGE="fr")
    french.credentials(HTTP_AUTHORIZATION=caller.client._credentials["HTTP_AUTHORIZATION"])
    too_long = {**order_body(), "ship_to": {**SHIP_TO, "city": "x" * 101}}
    no_lines = {**order_body(), "lines": []}

    english_error = caller.post("/api/v1/orders", too_long).json()["error"]
    french_error = french.post("/api/v1/orders", json.dumps(too_long), content_type="application/json").json()["error"]
    then = caller.post("/api/v1/orders", no_lines).json()["error"]

    assert english_error["fields"] == {"ship_to.city": ["Ensure this field has no more than 100 characters."]}
    assert french_error["fields"] == {"ship_to.city": ["Assurez-vous que ce champ comporte au plus 100\xa0caractères."]}
    assert then["fields"] == {"lines": ["This list may not be empty."]}
    assert caller.post("/api/v1/orders", order_body()).status_code == 201


def test_a_member_session_can_place_orders(stock):
    member = MembershipFactory(role=Role.MEMBER)
    client = APIClient(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(member.user)
    response = client.post("/api/v1/orders", order_body(), format="json")
    assert response.status_code == 201
    assert Order.objects.get().created_by_label == member.user.email


def test_a_read_only_key_cannot_submit(stock):
    reader = Caller(scopes=("read",))
    response = reader.post("/api/v1/orders", order_body())
    assert_error_format(response, 403, "permission_denied")
    assert reader.client.get("/api/v1/orders").status_code == 200
    assert not Order.objects.exists()


def test_partner_b_can_neither_see_nor_cancel_nor_fix_partner_a_orders(caller, stock):
    order_id = caller.post("/api/v1/orders", order_body()).json()["id"]
    other = Caller()
    assert_error_format(other.client.get(f"/api/v1/orders/{order_id}"), 404, "not_found")
    assert_error_format(other.post(f"/api/v1/orders/{order_id}/cancel", {}), 404, "not_found")
    assert_error_format(other.client.patch(f"/api/v1/orders/{order_id}/address", {"postcode": "75001"},
                                           format="json"), 404, "not_found")
    assert_error_format(other.client.get(f"/api/v1/orders/{order_id}/shipments"), 404, "not_found")
    assert other.client.get("/api/v1/orders").json()["results"] == []
    assert Order.objects.get().status == Status.SUBMITTED


# --- Reading ------------------------------------------------------------------------------------------


def test_the_list_filters_by_status_reference_sku_and_date(caller, stock):
    tea = submit_order(caller.partner, ("TEA-1", 1), reference="A-1")
    cup = submit_order(caller.partner, ("CUP-1", 1), reference="A-2")
    services.cancel_order(order=cup, actor=SYSTEM)
    Order.objects.filter(pk=tea.pk).update(created_at=timezone.now() - dt.timedelta(days=3))

    def ids(query):
        response = caller.client.get("/api/v1/orders", query)
        assert response.status_code == 200, response.content
        return [order["reference"] for order in response.json()["results"]]

    assert ids({}) == ["A-2", "A-1"]
    assert ids({"status": "cancelled"}) == ["A-2"]
    assert ids({"reference": "A-1"}) == ["A-1"]
    assert ids({"sku": "CUP-1"}) == ["A-2"]
    yesterday = (timezone.now() - dt.timedelta(days=1)).isoformat()
    assert ids({"created_after": yesterday}) == ["A-2"]
    assert ids({"created_before": yesterday}) == ["A-1"]
    assert_error_format(caller.client.get("/api/v1/orders", {"status": "lost"}), 400, "invalid")


def test_the_list_pages_with_a_cursor_in_a_fixed_number_of_statements(caller, stock,
                                                                     django_assert_max_num_queries):
    for number in range(30):
        submit_order(caller.partner, ("TEA-1", 1) if number % 2 else ("CUP-1", 1), reference=f"R-{number}",
                     backorder=True)
    caller.client.get("/api/v1/orders")  # the key's first use is recorded
    with django_assert_max_num_queries(6):
        response = caller.client.get("/api/v1/orders", {"limit": 20})
    body = response.json()
    assert len(body["results"]) == 20 and all(order["lines"] for order in body["results"])
    following = caller.client.get(body["next"]).json()
    assert len(following["results"]) == 10
    seen = {order["id"] for order in body["results"]} | {order["id"] for order in following["results"]}
    assert len(seen) == 30


@pytest.mark.parametrize("query", [{"limit": "abc"}, {"limit": "0"}, {"limit": "201"}, {"limit": "-1"},
                                   {"cursor": "garbage"}, {"cursor": "%ff"}])
def test_a_bad_limit_or_cursor_is_refused_as_the_stock_feed_refuses_it(caller, stock, query):
    submit_order(caller.partner, ("TEA-1", 1))
    response = caller.client.get("/api/v1/orders", query)
    if "limit" in query:
        error = assert_error_format(response, 400, "invalid")
        assert error["fields"] == {"limit": ["A whole number from 1 to 200."]}
    else:
        error = assert_error_format(response, 400, "invalid_cursor")
        assert error["message"] == "This cursor is not valid: follow the `next` link of a previous page."


def test_an_order_shows_lines_reservations_checks_timeline_and_shipments(caller, stock):
    order = submit_order(caller.partner, ("TEA-1", 2), ("CUP-1", 1), ship_to={"postcode": "690"})
    services.process_order(order_id=order.pk)
    response = caller.client.get(f"/api/v1/orders/{order.public_id}")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "on_hold"
    assert {(r["sku"], r["warehouse"], r["quantity"], r["state"]) for r in body["reservations"]} == {
        ("TEA-1", "lyon", 2, "held"), ("CUP-1", "lyon", 1, "held")}
    failed = [check for check in body["checks"] if not check["passed"]]
    assert failed[0]["code"] == "postcode_invalid" and failed[0]["severity"] == "block"
    assert "690" in failed[0]["message"] and failed[0]["action"]
    assert [event["to_status"] for event in body["timeline"]] == ["submitted", "checking", "on_hold"]
    assert body["timeline"][0]["by"] == "BigStock" and body["timeline"][0]["at"].endswith("Z")
    assert body["shipments"] == []


def test_check_messages_follow_the_request_language(caller, stock):
    order = submit_order(caller.partner, ("TEA-1", 1), ship_to={"postcode": "690"})
    services.process_order(order_id=order.pk)
    body = caller.client.get(f"/api/v1/orders/{order.public_id}", HTTP_ACCEPT_LANGUAGE="fr").json()
    failed = next(check for check in body["checks"] if not check["passed"])
    assert failed["code"] == "postcode_invalid" and failed["message"] != body["checks"][-1]["message"]


def test_reasons_bigstock_gives_in_the_timeline_follow_the_request_language(caller, stock):
    """Written once, in French (the submission, then the worker's checks), read in either language."""
    with translation.override("fr"):
        order = submit_order(caller.partner, ("CUP-1", 8), ship_to={"postcode": "690"}, backorder=True)
        services.process_order(order_id=order.pk)
    url = f"/api/v1/orders/{order.public_id}"
    english = caller.client.get(url).json()
    french = caller.client.get(url, HTTP_ACCEPT_LANGUAGE="fr").json()
    assert [(event["to_status"], event["reason_code"]) for event in english["timeline"]] == [
        ("submitted", "backorder"), ("checking", ""), ("on_hold", "checks_failed")]
    assert (english["timeline"][0]["reason"], french["timeline"][0]["reason"]) == ("Backorder: CUP-1",
                                                                                  "Reliquat : CUP-1")
    for body in (english, french):  # the hold's reason: the failed checks' messages, in the reader's language
        blocking = [check["message"] for check in body["checks"] if not check["passed"] and check["severity"] == "block"]
        assert body["timeline"][2]["reason"] == "; ".join(blocking) and "690" in body["timeline"][2]["reason"]
    assert english["timeline"][2]["reason"] != french["timeline"][2]["reason"]


def test_a_reason_a_person_wrote_is_shown_as_written(caller, stock):
    order_id = caller.post("/api/v1/orders", order_body()).json()["id"]
    caller.post(f"/api/v1/orders/{order_id}/cancel", {"reason": "Le client a changé d'avis"})
    [*_, cancelled] = caller.client.get(f"/api/v1/orders/{order_id}").json()["timeline"]
    assert (cancelled["reason"], cancelled["reason_code"]) == ("Le client a changé d'avis", "")


# --- Changes ------------------------------------------------------------------------------------------


def test_cancelling_releases_the_stock_and_a_second_cancel_is_refused(caller, stock):
    order_id = caller.post("/api/v1/orders", order_body()).json()["id"]
    response = caller.post(f"/api/v1/orders/{order_id}/cancel", {"reason": "Customer changed their mind"})
    assert response.status_code == 200 and response.json()["status"] == "cancelled"
    assert reserved("TEA-1") == 0
    error = assert_error_format(caller.post(f"/api/v1/orders/{order_id}/cancel", {}), 409, "forbidden_transition")
    assert error["current_status"] == "cancelled"


def test_fixing_the_address_of_an_order_on_hold_makes_it_ready(caller, stock):
    order = submit_order(caller.partner, ("TEA-1", 1), ship_to={"postcode": "690"})
    services.process_order(order_id=order.pk)
    response = caller.client.patch(f"/api/v1/orders/{order.public_id}/address", {"postcode": "69003"},
                                   format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "ready" and body["ship_to"]["postcode"] == "69003"
    assert body["ship_to"]["name"] == SHIP_TO["name"]  # the fields not sent are kept
    assert all(check["passed"] for check in body["checks"] if check["severity"] == "block")


def test_the_address_can_change_only_on_hold_and_is_validated(caller, stock):
    order = submit_order(caller.partner, ("TEA-1", 1))
    url = f"/api/v1/orders/{order.public_id}/address"
    assert_error_format(caller.client.patch(url, {"postcode": "69001"}, format="json"), 409, "forbidden_transition")
    order = submit_order(caller.partner, ("TEA-1", 1), ship_to={"postcode": "690"})
    services.process_order(order_id=order.pk)
    url = f"/api/v1/orders/{order.public_id}/address"
    response = caller.client.patch(url, {"city": ""}, format="json")
    assert "city" in assert_error_format(response, 400, "invalid")["fields"]
    response = caller.client.patch(url, {"country": "XX"}, format="json")
    assert "country" in assert_error_format(response, 400, "invalid_order")["fields"]
    order.refresh_from_db()
    assert (order.status, order.ship_to_city) == (Status.ON_HOLD, SHIP_TO["city"])


def test_running_the_checks_again(caller, stock, settings):
    settings.BIGSTOCK_ORDER_REVIEW_THRESHOLD_CENTS = 100
    order = submit_order(caller.partner, ("TEA-1", 1))
    services.process_order(order_id=order.pk)
    settings.BIGSTOCK_ORDER_REVIEW_THRESHOLD_CENTS = 500_000
    response = caller.post(f"/api/v1/orders/{order.public_id}/recheck", {})
    assert response.status_code == 200 and response.json()["status"] == "ready"


def test_shipments_list_the_parcels_with_tracking(caller, stock):
    order = submit_order(caller.partner, ("TEA-1", 2))
    services.process_order(order_id=order.pk)
    services.start_picking(order=order, actor=SYSTEM)
    services.mark_packed(order=order, actor=SYSTEM)
    shipment = services.create_shipment(order=order, quantities=None, carrier="Colissimo", tracking_number="6A1",
                                        tracking_url="https://track.example/6A1", actor=SYSTEM)
    services.add_tracking_event(shipment=shipment, kind="in_transit", occurred_at=timezone.now(), actor=SYSTEM,
                                location="Lyon")
    body = caller.client.get(f"/api/v1/orders/{order.public_id}/shipments").json()
    assert body[0]["id"] == shipment.public_id and body[0]["tracking_url"] == "https://track.example/6A1"
    assert body[0]["lines"] == [{"sku": "TEA-1", "quantity": 2}]
    assert body[0]["tracking"][0]["kind"] == "in_transit"
    detail = caller.client.get(f"/api/v1/orders/{order.public_id}").json()
    assert detail["status"] == "shipped" and detail["shipments"][0]["tracking_number"] == "6A1"


def test_the_schema_documents_the_orders_endpoints_with_errors_and_examples(client):
    schema = client.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    create = schema["paths"]["/api/v1/orders"]["post"]
    assert {"201", "400", "409", "422"} <= set(create["responses"])
    assert "Idempotency-Key" in {parameter["name"] for parameter in create["parameters"]}
    assert create["requestBody"]["content"]["application/json"]["examples"]
    for path in ["/api/v1/orders/{id}", "/api/v1/orders/{id}/cancel", "/api/v1/orders/{id}/address",
                 "/api/v1/orders/{id}/recheck", "/api/v1/orders/{id}/shipments"]:
        assert path in schema["paths"]
