"""The stock feed API: /stock (pages, filters, change cursor, ETag), /products with the caller's
price, and the CSV / JSON downloads."""

import csv
import datetime as dt
import io
import json
from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from inventory import feed, services
from partners.audit import SYSTEM
from partners.models import Role
from subscriptions import services as billing
from tests.bigstock.test_api_errors import assert_error_format
from tests.factories import (
    MembershipFactory,
    PartnerFactory,
    PlanFactory,
    WarehouseFactory,
    make_api_key,
    make_product,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    cache.clear()  # throttle counters are keyed by database ids, which tests reuse


@pytest.fixture(autouse=True)
def _settled_at_once(monkeypatch):
    """Changes reach the change cursor as soon as written (settling is tested in test_feed.py)."""
    monkeypatch.setattr(feed, "FEED_SETTLE_DELAY", timedelta(0))


@pytest.fixture
def lyon():
    return WarehouseFactory(code="lyon")


class Caller:
    """A partner calling with its API key (read scope is enough), in English."""

    def __init__(self, *, discount: str | None = None):
        self.partner = PartnerFactory()
        self.owner = MembershipFactory(partner=self.partner, role=Role.OWNER)
        if discount is not None:
            plan = PlanFactory(wholesale_discount=Decimal(discount))
            billing.subscribe(partner=self.partner, plan=plan, actor=SYSTEM)
        _key, self.secret = make_api_key(self.partner, scopes=("read",), created_by=self.owner)
        self.client = self.new_client()

    def new_client(self) -> APIClient:
        client = APIClient(HTTP_ACCEPT_LANGUAGE="en")
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {self.secret}")
        return client

    def get(self, url, **params):
        return self.client.get(url, params)


@pytest.fixture
def caller():
    return Caller()


def catalogue(lyon, count: int):
    return [make_product(f"SKU-{n:04d}", stock={lyon: n + 1}) for n in range(count)]


def walk(caller, url, **params):
    """Every page from ``url``: (rows, change cursor of each page)."""
    rows, cursors = [], []
    response = caller.get(url, **params)
    while True:
        assert response.status_code == 200, response.content
        body = response.json()
        rows += body["results"]
        cursors.append(body["change_cursor"])
        if body["next"] is None:
            return rows, cursors
        response = caller.client.get(body["next"])


# --- /stock ---------------------------------------------------------------------------------------


def test_the_feed_pages_every_sku_by_cursor_with_one_change_cursor_per_walk(caller, lyon):
    catalogue(lyon, 5)
    response = caller.get("/api/v1/stock", limit=2)
    body = response.json()
    assert body["results"] == [{"sku": "SKU-0000", "available": 1}, {"sku": "SKU-0001", "available": 2}]
    assert body["next"].startswith("http://testserver/api/v1/stock?") and "limit=2" in body["next"]
    rows, cursors = walk(caller, "/api/v1/stock", limit=2)
    assert [row["sku"] for row in rows] == [f"SKU-{n:04d}" for n in range(5)]
    assert len(set(cursors)) == 1 and cursors[0].isdigit()


def test_changes_since_returns_only_what_changed_after_the_cursor(caller, lyon):
    products = catalogue(lyon, 4)
    _rows, cursors = walk(caller, "/api/v1/stock")
    services.receive(product=products[2], warehouse=lyon, quantity=10, actor=SYSTEM)
    services.adjust(product=products[0], warehouse=lyon, delta=-1, reason="Casse", actor=SYSTEM)
    rows, later = walk(caller, "/api/v1/stock", changes_since=cursors[-1])
    assert rows == [{"sku": "SKU-0002", "available": 13}, {"sku": "SKU-0000", "available": 0}]
    assert int(later[-1]) > int(cursors[-1])
    nothing = caller.get("/api/v1/stock", changes_since=later[-1]).json()
    assert nothing == {"results": [], "next": None, "change_cursor": later[-1]}


def test_filters_sku_list_and_in_stock(caller, lyon):
    catalogue(lyon, 3)
    make_product("EMPTY-1")
    body = caller.get("/api/v1/stock", sku="SKU-0002, EMPTY-1,SKU-0000").json()
    assert [row["sku"] for row in body["results"]] == ["EMPTY-1", "SKU-0000", "SKU-0002"]
    assert [row["sku"] for row in caller.get("/api/v1/stock", in_stock="true").json()["results"]] == [
        "SKU-0000", "SKU-0001", "SKU-0002"]
    assert [row["sku"] for row in caller.get("/api/v1/stock", in_stock="false").json()["results"]] == ["EMPTY-1"]


def test_updated_since_takes_an_iso_time_even_with_an_unencoded_offset(caller, lyon):
    _unchanged, fresh = catalogue(lyon, 2)
    with time_machine.travel(timezone.now() + timedelta(hours=2)):
        services.receive(product=fresh, warehouse=lyon, quantity=1, actor=SYSTEM)
        since = (timezone.now() - timedelta(minutes=1)).astimezone(dt.timezone(timedelta(hours=1)))
        response = caller.client.get(f"/api/v1/stock?updated_since={since.isoformat()}")  # "+01:00" arrives as " 01:00"
    assert [row["sku"] for row in response.json()["results"]] == ["SKU-0001"]


def test_an_unknown_sku_in_the_filter_gets_a_404_naming_it(caller, lyon):
    catalogue(lyon, 1)
    error = assert_error_format(caller.get("/api/v1/stock", sku="SKU-0000,NOPE-9"), 404, "unknown_sku")
    assert error["skus"] == ["NOPE-9"]
    assert error["fields"] == {"sku": ["Unknown SKU NOPE-9."]}


@pytest.mark.parametrize("params, field", [
    ({"limit": 1001}, "limit"), ({"limit": 0}, "limit"), ({"changes_since": "abc"}, "changes_since"),
    ({"updated_since": "yesterday"}, "updated_since"), ({"in_stock": "maybe"}, "in_stock"),
    ({"sku": ",".join(f"S{n}" for n in range(1001))}, "sku"),
])
def test_bad_parameters_are_field_errors(caller, params, field):
    error = assert_error_format(caller.get("/api/v1/stock", **params), 400, "invalid")
    assert list(error["fields"]) == [field]


def test_a_forged_or_foreign_cursor_is_refused(caller, lyon):
    catalogue(lyon, 3)
    assert_error_format(caller.get("/api/v1/stock", cursor="not-a-cursor"), 400, "invalid_cursor")
    listing = caller.get("/api/v1/stock", limit=1).json()["next"]
    cursor = listing.split("cursor=")[1]
    assert_error_format(caller.get("/api/v1/stock", cursor=cursor, changes_since=0), 400, "invalid_cursor")


def test_an_unchanged_page_answers_304_without_a_body(caller, lyon):
    products = catalogue(lyon, 3)
    first = caller.get("/api/v1/stock", limit=2)
    etag = first["ETag"]
    assert etag.startswith('"') and first["Cache-Control"] == "private, max-age=5"
    again = caller.client.get("/api/v1/stock", {"limit": 2}, HTTP_IF_NONE_MATCH=etag)
    assert again.status_code == 304 and again.content == b""
    assert again["ETag"] == etag and again["Cache-Control"] == "private, max-age=5"
    other_query = caller.client.get("/api/v1/stock", {"limit": 3}, HTTP_IF_NONE_MATCH=etag)
    assert other_query.status_code == 200 and other_query["ETag"] != etag
    services.receive(product=products[0], warehouse=lyon, quantity=1, actor=SYSTEM)
    changed = caller.client.get("/api/v1/stock", {"limit": 2}, HTTP_IF_NONE_MATCH=etag)
    assert changed.status_code == 200 and changed["ETag"] != etag
    assert changed.json()["results"][0] == {"sku": "SKU-0000", "available": 2}


def _queries(client, url, params) -> list[str]:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url, params).status_code == 200
    return [query["sql"] for query in queries.captured_queries]


@pytest.mark.parametrize("params", [{}, {"changes_since": "0"}, {"sku": "SKU-0001,SKU-0002", "in_stock": "true"}])
def test_a_page_costs_one_statement_whatever_its_size(lyon, params):
    catalogue(lyon, 500)
    counts = []
    for limit in (10, 500):
        client = Caller().client
        # A fresh key's first call: the key, its first use recorded, its plan's rate, the page.
        assert len(_queries(client, "/api/v1/stock", {**params, "limit": limit})) <= 4
        queries = _queries(client, "/api/v1/stock", {**params, "limit": limit})
        counts.append(len(queries))
        assert not any("django_session" in sql for sql in queries)  # the session is never touched
    assert counts == [1, 1]  # in steady use the key and its plan are cached (bigstock.hotcache)


def test_the_key_needs_no_write_scope_and_no_key_gets_401(lyon):
    assert_error_format(APIClient().get("/api/v1/stock"), 401, "not_authenticated")


def test_the_portal_session_reads_the_feed(caller, lyon):
    catalogue(lyon, 2)
    client = APIClient()
    client.force_login(caller.owner.user)
    assert [row["sku"] for row in client.get("/api/v1/stock").json()["results"]] == ["SKU-0000", "SKU-0001"]


# --- /products ------------------------------------------------------------------------------------


def test_products_carry_both_languages_and_the_callers_own_price(lyon):
    make_product("MUG-1", wholesale_price_cents=1000, name_fr="Tasse", name_en="Mug", description_fr="Grès",
                 description_en="Stoneware", gtin="4006381333931", vat_class="reduced", length_mm=90,
                 width_mm=80, height_mm=100, stock={lyon: 7})
    discounted, full_price = Caller(discount="0.150"), Caller()
    [product] = discounted.get("/api/v1/products").json()["results"]
    assert product["name"] == {"fr": "Tasse", "en": "Mug"}
    assert product["description"] == {"fr": "Grès", "en": "Stoneware"}
    assert product["dimensions_mm"] == {"length": 90, "width": 80, "height": 100}
    assert (product["gtin"], product["vat_rate"], product["available"], product["active"]) == (
        "4006381333931", "0.055", 7, True)
    assert (product["price_cents"], product["currency"]) == (850, "EUR")
    body = full_price.get("/api/v1/products")
    assert body.json()["results"][0]["price_cents"] == 1000
    assert b"850" not in body.content  # another partner's price never shows


@pytest.mark.parametrize("url", ["/api/v1/products", "/api/v1/products/ODD-1", "/api/v1/stock/export.csv",
                                 "/api/v1/stock/export.json"])
def test_no_route_shows_another_partners_price(lyon, url):
    make_product("ODD-1", wholesale_price_cents=123_457, stock={lyon: 5})
    a, b = Caller(discount="0.060"), Caller(discount="0.110")
    prices = {a: "116050", b: "109877"}  # 123457 less 6 % and less 11 %, rounded to the cent
    for caller, other in [(a, b), (b, a)]:
        response = caller.client.get(url)
        body = b"".join(response.streaming_content) if response.streaming else response.content
        assert prices[caller].encode() in body and prices[other].encode() not in body


def test_a_product_by_sku_with_the_callers_price_and_its_incoming_date(lyon):
    from inventory.models import Receipt, ReceiptLine

    product = make_product("MUG-1", wholesale_price_cents=2000)
    receipt = Receipt.objects.create(supplier="Faïencerie", warehouse=lyon, expected_on="2031-03-02")
    ReceiptLine.objects.create(receipt=receipt, product=product, quantity_expected=50)
    body = Caller(discount="0.100").get("/api/v1/products/MUG-1").json()
    assert (body["sku"], body["price_cents"], body["incoming_on"], body["available"]) == ("MUG-1", 1800,
                                                                                          "2031-03-02", 0)


def test_an_unknown_sku_gets_a_404_in_the_error_format(caller):
    error = assert_error_format(caller.get("/api/v1/products/NOPE-1"), 404, "unknown_sku")
    assert error["message"] == "No product with SKU NOPE-1."


def test_products_page_by_cursor_and_filter(caller, lyon):
    catalogue(lyon, 3)
    make_product("OLD-1", is_active=False)
    first = caller.get("/api/v1/products", limit=2).json()
    second = caller.client.get(first["next"]).json()
    assert [p["sku"] for p in first["results"] + second["results"]] == ["OLD-1", "SKU-0000", "SKU-0001", "SKU-0002"]
    assert second["next"] is None
    assert [p["sku"] for p in caller.get("/api/v1/products", active="false").json()["results"]] == ["OLD-1"]
    assert [p["sku"] for p in caller.get("/api/v1/products", sku="SKU-0001").json()["results"]] == ["SKU-0001"]


def test_products_answer_304_when_unchanged(caller, lyon):
    catalogue(lyon, 2)
    etag = caller.get("/api/v1/products")["ETag"]
    assert caller.client.get("/api/v1/products", HTTP_IF_NONE_MATCH=etag).status_code == 304


def test_a_products_page_costs_the_same_statements_whatever_its_size(lyon):
    catalogue(lyon, 200)
    caller = Caller(discount="0.050")
    caller.get("/api/v1/products", limit=1)  # the key, its first use and its plan's terms: then cached
    counts = [len(_queries(caller.client, "/api/v1/products", {"limit": limit})) for limit in (10, 200)]
    assert counts == [1, 1]  # the page


# --- Downloads ------------------------------------------------------------------------------------


def test_the_csv_download_streams_every_product_with_the_callers_price(lyon):
    make_product("MUG-1", wholesale_price_cents=1000, name_fr="=HYPERLINK(1)", stock={lyon: 3})
    make_product("CUP-1", wholesale_price_cents=500, is_active=False)
    caller = Caller(discount="0.200")
    response = caller.get("/api/v1/stock/export.csv")
    assert response.status_code == 200 and response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="bigstock-stock-')
    assert response["X-Change-Cursor"].isdigit()
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [(row["sku"], row["available"], row["price_cents"], row["active"]) for row in rows] == [
        ("CUP-1", "0", "400", "false"), ("MUG-1", "3", "800", "true")]
    assert rows[1]["name_fr"] == "'=HYPERLINK(1)"  # a spreadsheet shows it, never runs it


def test_the_json_download_from_the_portal_session(caller, lyon):
    catalogue(lyon, 2)
    client = APIClient()
    client.force_login(caller.owner.user)
    response = client.get("/api/v1/stock/export.json", HTTP_ACCEPT="text/html")
    assert response.status_code == 200 and response["Content-Disposition"].endswith('.json"')
    body = json.loads(b"".join(response.streaming_content))
    assert body["change_cursor"] == response["X-Change-Cursor"]
    assert [(p["sku"], p["available"], p["price_cents"]) for p in body["products"]] == [
        ("SKU-0000", 1, 1000), ("SKU-0001", 2, 1000)]


def test_downloads_refuse_callers_without_credentials_in_the_error_format():
    assert_error_format(APIClient().get("/api/v1/stock/export.csv"), 401, "not_authenticated")


# --- Documentation --------------------------------------------------------------------------------


def test_every_feed_endpoint_is_documented_with_its_errors(client):
    schema = client.get("/api/v1/schema/", HTTP_ACCEPT="application/json").json()
    for path in ("/api/v1/stock", "/api/v1/products", "/api/v1/products/{sku}", "/api/v1/stock/export.csv",
                 "/api/v1/stock/export.json"):
        operation = schema["paths"][path]["get"]
        assert {"200", "401", "403", "429"} <= set(operation["responses"]), path
    assert "304" in schema["paths"]["/api/v1/stock"]["get"]["responses"]
    assert "404" in schema["paths"]["/api/v1/products/{sku}"]["get"]["responses"]
