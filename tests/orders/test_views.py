"""The orders pages of the partner portal: list, filters and export, an order's page, fixing a hold,
cancelling, the new-order form with its htmx search, and the dashboard's holds."""

import csv
import io

import pytest
from django.test import Client
from django.utils import timezone, translation

from inventory.models import StockLevel
from orders import services
from orders.models import Order, Status
from partners.audit import SYSTEM
from partners.models import Role
from tests.factories import SHIP_TO, MembershipFactory, WarehouseFactory, make_product, submit

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner():
    return MembershipFactory(role=Role.OWNER)


@pytest.fixture
def partner(owner):
    return owner.partner


@pytest.fixture
def browser(owner) -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(owner.user)
    return client


@pytest.fixture
def stock():
    lyon = WarehouseFactory(code="lyon")
    make_product("TEA-1", stock={lyon: 10}, wholesale_price_cents=450, name_en="Green tea", name_fr="Thé vert")
    make_product("CUP-1", stock={lyon: 5}, wholesale_price_cents=1200, name_en="Stone cup", name_fr="Tasse")
    return lyon


def on_hold(partner, **kwargs):
    order = submit(partner, ("TEA-1", 1), ship_to={"postcode": "690"}, **kwargs)
    services.process_order(order_id=order.pk)
    order.refresh_from_db()
    assert order.status == Status.ON_HOLD
    return order


def html(response) -> str:
    return response.content.decode()


# --- List, filters, export ---------------------------------------------------------------------------


def test_the_list_shows_the_partners_orders_only(browser, partner, stock):
    mine = submit(partner, ("TEA-1", 1), reference="MINE-1")
    theirs = submit(MembershipFactory().partner, ("TEA-1", 1), reference="THEIRS-1")
    page = html(browser.get("/orders/"))
    assert mine.reference in page and mine.public_id in page
    assert theirs.reference not in page and theirs.public_id not in page


def test_the_list_filters_by_status_reference_sku_and_date(browser, partner, stock):
    submit(partner, ("TEA-1", 1), reference="A-100")
    cup = submit(partner, ("CUP-1", 1), reference="B-200")
    services.cancel_order(order=cup, actor=SYSTEM)
    old = submit(partner, ("TEA-1", 1), reference="C-300")
    Order.objects.filter(pk=old.pk).update(submitted_at=timezone.now() - timezone.timedelta(days=10))

    def shown(query):
        page = html(browser.get("/orders/", query))
        return {reference for reference in ("A-100", "B-200", "C-300") if reference in page}

    assert shown({}) == {"A-100", "B-200", "C-300"}
    assert shown({"status": "cancelled"}) == {"B-200"}
    assert shown({"reference": "a-1"}) == {"A-100"}
    assert shown({"sku": "cup-1"}) == {"B-200"}
    since = (timezone.localdate() - timezone.timedelta(days=2)).isoformat()
    assert shown({"submitted_from": since}) == {"A-100", "B-200"}
    assert shown({"submitted_to": since}) == {"C-300"}


def test_the_export_is_the_filtered_list_as_csv(browser, partner, stock):
    submit(partner, ("TEA-1", 2), ("CUP-1", 1), reference="A-100")
    submit(partner, ("CUP-1", 1), reference="B-200")
    response = browser.get("/orders/export.csv", {"sku": "TEA-1"})
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    assert [row["reference"] for row in rows] == ["A-100"]
    assert rows[0]["lines"] == "TEA-1 x 2; CUP-1 x 1" and rows[0]["units"] == "3"
    assert rows[0]["subtotal"] == "21.00" and rows[0]["status"] == "submitted"


def test_the_list_reads_in_a_fixed_number_of_statements(browser, partner, stock, django_assert_max_num_queries):
    for number in range(60):
        submit(partner, ("TEA-1", 1), reference=f"R-{number}", backorder=True)
    browser.get("/orders/")
    with django_assert_max_num_queries(14):
        response = browser.get("/orders/")
    assert html(response).count("/orders/ord_") == 50


# --- An order's page ------------------------------------------------------------------------------------


def test_an_order_on_hold_says_why_and_what_to_do(browser, partner, stock):
    order = on_hold(partner)
    page = html(browser.get(f"/orders/{order.public_id}/"))
    assert "This order is on hold" in page
    assert "The postcode 690 is not valid for FR." in page
    assert "Correct the postcode, then run the checks again." in page
    assert "Correct the delivery address" in page and "Run the checks again" in page
    assert "TEA-1" in page and "Timeline" in page


def test_the_timeline_gives_bigstocks_reasons_in_the_readers_language(browser, partner, stock):
    with translation.override("fr"):  # the worker that held it wrote in French
        order = on_hold(partner)
    timeline = html(browser.get(f"/orders/{order.public_id}/")).split('id="timeline-heading"')[1]
    assert "The postcode 690 is not valid for FR." in timeline


def test_fixing_the_address_of_a_hold_makes_the_order_ready(browser, partner, stock):
    order = on_hold(partner)
    response = browser.post(f"/orders/{order.public_id}/address/", {**SHIP_TO, "postcode": "69003"}, follow=True)
    assert "Every check passes" in html(response)
    order.refresh_from_db()
    assert order.status == Status.READY and order.ship_to_postcode == "69003"


def test_a_wrong_address_is_shown_next_to_its_field_and_changes_nothing(browser, partner, stock):
    order = on_hold(partner)
    response = browser.post(f"/orders/{order.public_id}/address/", {**SHIP_TO, "city": ""})
    assert response.status_code == 400
    assert response.context["address_form"].errors["city"]
    order.refresh_from_db()
    assert order.status == Status.ON_HOLD and order.ship_to_city == SHIP_TO["city"]


def test_running_the_checks_again_from_the_page(browser, partner, stock, settings):
    settings.BIGSTOCK_ORDER_REVIEW_THRESHOLD_CENTS = 100
    order = submit(partner, ("TEA-1", 1))
    services.process_order(order_id=order.pk)
    settings.BIGSTOCK_ORDER_REVIEW_THRESHOLD_CENTS = 500_000
    response = browser.post(f"/orders/{order.public_id}/recheck/", follow=True)
    assert "Every check passes" in html(response)
    order.refresh_from_db()
    assert order.status == Status.READY


def test_cancelling_from_the_page_releases_the_stock(browser, partner, stock):
    order = submit(partner, ("TEA-1", 4))
    assert "Cancel the order" in html(browser.get(f"/orders/{order.public_id}/"))
    response = browser.post(f"/orders/{order.public_id}/cancel/", {"reason": "Customer changed their mind"},
                            follow=True)
    assert "is cancelled" in html(response)
    order.refresh_from_db()
    assert order.status == Status.CANCELLED
    assert StockLevel.objects.get(product__sku="TEA-1").reserved == 0
    assert "Cancel the order" not in html(browser.get(f"/orders/{order.public_id}/"))
    again = browser.post(f"/orders/{order.public_id}/cancel/", follow=True)
    assert "cannot become cancelled" in html(again)


def test_a_shipped_order_shows_its_tracking_link_and_events(browser, partner, stock):
    order = submit(partner, ("TEA-1", 2))
    services.process_order(order_id=order.pk)
    services.start_picking(order=order, actor=SYSTEM)
    services.mark_packed(order=order, actor=SYSTEM)
    shipment = services.create_shipment(order=order, quantities=None, carrier="Colissimo", tracking_number="6A999",
                                        tracking_url="https://track.example/6A999", actor=SYSTEM)
    services.add_tracking_event(shipment=shipment, kind="delivered", occurred_at=timezone.now(), actor=SYSTEM,
                                location="Lyon 3e")
    page = html(browser.get(f"/orders/{order.public_id}/"))
    assert 'href="https://track.example/6A999"' in page and "Colissimo" in page
    assert "Lyon 3e" in page and "Delivered" in page
    assert "Cancel the order" not in page


def test_another_partners_order_is_not_found(browser, stock):
    other = submit(MembershipFactory().partner, ("TEA-1", 1))
    assert browser.get(f"/orders/{other.public_id}/").status_code == 404
    assert browser.post(f"/orders/{other.public_id}/cancel/").status_code == 404
    other.refresh_from_db()
    assert other.status == Status.SUBMITTED


# --- New order ------------------------------------------------------------------------------------------


def new_order(**changes):
    data = {"reference": "WEB-1", **SHIP_TO, "carrier_service": "standard", "notes": "",
            "line_sku": ["TEA-1", "CUP-1"], "line_quantity": ["2", "1"]}
    data.update(changes)
    return data


def test_the_product_search_shows_live_availability_and_the_partners_price(browser, stock):
    response = browser.get("/orders/new/products", {"q": "tea"}, HTTP_HX_REQUEST="true")
    page = html(response)
    assert "TEA-1" in page and "Green tea" in page and "CUP-1" not in page
    assert ">10<" in page and "4.50" in page
    assert "/orders/new/line?sku=TEA-1" in page
    assert "TEA-1" in html(browser.get("/orders/new/products", {"q": "green"}))
    assert "Green" not in html(browser.get("/orders/new/products", {"q": "t"}))  # two characters at least


def test_adding_a_line_returns_a_row_for_the_sku(browser, stock):
    row = html(browser.get("/orders/new/line", {"sku": "cup-1"}, HTTP_HX_REQUEST="true"))
    assert row.strip().startswith("<tr") and 'value="CUP-1"' in row and "Stone cup" in row
    assert 'name="line_quantity"' in html(browser.get("/orders/new/line"))


def test_submitting_the_form_places_the_order(browser, partner, stock):
    assert browser.get("/orders/new/").status_code == 200
    response = browser.post("/orders/new/", new_order())
    order = Order.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/orders/{order.public_id}/"
    assert (order.partner, order.source, order.reference) == (partner, "portal", "WEB-1")
    assert {(line.sku, line.quantity) for line in order.lines.all()} == {("TEA-1", 2), ("CUP-1", 1)}
    assert "is submitted" in html(browser.get(response["Location"]))


def test_a_member_can_place_orders(stock):
    member = MembershipFactory(role=Role.MEMBER)
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(member.user)
    assert client.post("/orders/new/", new_order()).status_code == 302
    assert Order.objects.get().created_by_label == member.user.email


def test_missing_stock_is_shown_on_its_line_and_nothing_is_reserved(browser, stock):
    response = browser.post("/orders/new/", new_order(line_quantity=["2", "8"]))
    assert response.status_code == 200
    rows = response.context["form"].rows
    assert rows[0].errors == []
    assert rows[1].errors == ["Only 5 available: lower the quantity, or accept a backorder."]
    assert not Order.objects.exists() and StockLevel.objects.get(product__sku="TEA-1").reserved == 0
    assert 'value="8"' in html(response)  # what was typed stays


def test_backorder_from_the_form(browser, stock):
    browser.post("/orders/new/", new_order(line_quantity=["2", "8"], backorder="on"))
    assert Order.objects.get().lines.get(sku="CUP-1").quantity_backordered == 3


@pytest.mark.parametrize(("changes", "where", "message"), [
    ({"line_sku": ["NOPE-1"], "line_quantity": ["1"]}, "line", "Unknown SKU"),
    ({"line_sku": ["TEA-1"], "line_quantity": ["0"]}, "line", "whole number from 1"),
    ({"line_sku": [""], "line_quantity": ["2"]}, "line", "Give the SKU"),
    ({"line_sku": [""], "line_quantity": [""]}, "form", "Add at least one line"),
    ({"postcode": ""}, "postcode", "required"),
    ({"country": "XX"}, "country", "valid choice"),
    ({"phone": ""}, "phone", "required"),
])
def test_bad_input_is_shown_where_it_is(browser, stock, changes, where, message):
    response = browser.post("/orders/new/", new_order(**changes))
    assert response.status_code == 200
    form = response.context["form"]
    if where == "line":
        assert any(message in str(error) for row in form.rows for error in row.errors)
    elif where == "form":
        assert message in str(form.non_field_errors())
    else:
        assert message in str(form.errors[where])
    assert not Order.objects.exists()


def test_a_used_reference_is_refused_on_its_field(browser, partner, stock):
    first = submit(partner, ("TEA-1", 1), reference="WEB-1")
    response = browser.post("/orders/new/", new_order())
    assert "Already used." in response.context["form"].errors["reference"]
    assert first.public_id in html(response)
    assert Order.objects.count() == 1


# --- Dashboard ---------------------------------------------------------------------------------------


def test_the_dashboard_shows_the_orders_on_hold_with_what_to_do(browser, partner, stock):
    assert "on hold" not in html(browser.get("/"))
    order = on_hold(partner)
    page = html(browser.get("/"))
    assert "1 order on hold" in page and order.reference in page
    assert "Correct the postcode" in page


def test_holds_needing_action_lists_the_latest_failures_oldest_first(partner, stock):
    first = on_hold(partner, reference="H-1")
    second = on_hold(partner, reference="H-2")
    services.rerun_checks(order=first, actor=SYSTEM)
    submit(partner, ("TEA-1", 1))  # not on hold
    count, holds = services.holds_needing_action(partner=partner, limit=1)
    assert count == 2 and [order.reference for order in holds] == ["H-1"]
    assert [check.code for check in holds[0].blocking] == ["postcode_invalid"]
    count, holds = services.holds_needing_action(partner=partner)
    assert count == 2 and [order.pk for order in holds] == [first.pk, second.pk]
