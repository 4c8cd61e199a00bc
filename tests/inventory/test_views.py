"""The catalogue pages of the portal: search, filters, availability, the partner's price."""

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse

from inventory import receiving, reorder, services
from inventory.models import StockLevel
from inventory.services import LineRequest
from partners.audit import SYSTEM
from partners.models import Role
from subscriptions import services as billing
from tests.factories import MembershipFactory, PlanFactory, WarehouseFactory, make_product

pytestmark = pytest.mark.django_db

CATALOGUE = "/catalogue/"


@pytest.fixture
def client(client):
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


@pytest.fixture
def lyon():
    return WarehouseFactory(code="lyon", name="Entrepôt de Lyon")


@pytest.fixture
def lille():
    return WarehouseFactory(code="lille", name="Entrepôt de Lille")


@pytest.fixture
def member(client):
    membership = MembershipFactory(role=Role.MEMBER)
    client.force_login(membership.user)
    return membership


def rows(response):
    return [row.product.sku for row in response.context["rows"]]


def test_the_catalogue_is_in_the_navigation_and_lists_active_products_with_availability(client, member, lyon):
    make_product("MUG-1", name_en="Stoneware mug", stock={lyon: 12})
    make_product("OLD-1", is_active=False, stock={lyon: 5})
    response = client.get(CATALOGUE)
    assert response.status_code == 200
    assert reverse("inventory:catalogue") == CATALOGUE
    assert rows(response) == ["MUG-1"]
    body = response.content.decode()
    assert "Stoneware mug" in body and "12 available" in body
    assert f'href="{CATALOGUE}" aria-current="page"' in body
    assert "/api/v1/stock/export.csv" in body and "/api/v1/stock/export.json" in body


@pytest.mark.parametrize(("query", "expected"), [
    ("q=mug", ["MUG-1", "MUG-2"]),
    ("q=3760000000017", ["BOL-1"]),
    ("q=terre", ["MUG-1"]),
    ("q=bol-1", ["BOL-1"]),
    ("category=Cuisine", ["BOL-1", "MUG-1"]),
    ("brand=Terre+%26+Gr%C3%A8s", ["MUG-1"]),
    ("in_stock=on", ["MUG-1"]),
    ("q=mug&in_stock=on", ["MUG-1"]),
])
def test_search_and_filters(client, member, lyon, query, expected):
    make_product("MUG-1", name_en="Stoneware mug", brand="Terre & Grès", category="Cuisine", stock={lyon: 3})
    make_product("MUG-2", name_en="Enamel mug", brand="Atelier Rhône", category="Camping")
    make_product("BOL-1", name_en="Coffee bowl", category="Cuisine", gtin="3760000000017")
    response = client.get(f"{CATALOGUE}?{query}")
    assert rows(response) == expected


def test_pages_keep_the_filters(client, member, lyon):
    for number in range(55):
        make_product(f"MUG-{number:02d}", category="Cuisine")
    response = client.get(f"{CATALOGUE}?category=Cuisine")
    assert len(rows(response)) == 50
    assert "?category=Cuisine&amp;page=2" in response.content.decode()
    assert len(rows(client.get(f"{CATALOGUE}?category=Cuisine&page=2"))) == 5


def test_prices_are_the_partners_after_its_plan_discount(client, member, lyon):
    make_product("MUG-1", wholesale_price_cents=2000)
    billing.subscribe(partner=member.partner, plan=PlanFactory(wholesale_discount=Decimal("0.060")), actor=SYSTEM)
    response = client.get(CATALOGUE)
    assert response.context["rows"][0].price_cents == 1880
    assert "6 % discount" in response.content.decode()


def test_the_page_costs_the_same_queries_for_5_or_50_products(client, member, lyon, lille,
                                                             django_assert_max_num_queries):
    billing.subscribe(partner=member.partner, plan=PlanFactory(wholesale_discount=Decimal("0.030")), actor=SYSTEM)

    def products(count, start=0):
        for number in range(start, start + count):
            product = make_product(f"SKU-{number:03d}", category=f"Cat {number % 4}", brand=f"Brand {number % 3}",
                                   stock={lyon: 5, lille: 2})
            receiving.create_receipt(supplier="S", warehouse=lyon, expected_on=dt.date.today(), actor=SYSTEM,
                                     lines=[receiving.LineIn(product, 3)])
            services.reserve(lines=[LineRequest(product.sku, 1)], partner=member.partner, actor=SYSTEM,
                             reference=("order", product.sku))

    products(5)
    client.get(CATALOGUE)  # warm the session
    with django_assert_max_num_queries(30) as five:
        assert len(rows(client.get(CATALOGUE))) == 5
    products(45, start=5)
    with django_assert_max_num_queries(len(five)):
        assert len(rows(client.get(CATALOGUE))) == 50


def test_product_page_shows_availability_per_warehouse_and_incoming_supply(client, member, lyon, lille):
    paris = WarehouseFactory(code="paris", name="Entrepôt de Paris")
    mug = make_product("MUG-1", name_en="Stoneware mug", gtin="3760000000017", stock={lyon: 7, lille: 2})
    services.reserve(lines=[LineRequest("MUG-1", 2)], partner=None, actor=SYSTEM, reference=("order", "x"))
    receiving.create_receipt(supplier="Terre & Grès", warehouse=paris, expected_on=dt.date(2031, 5, 4),
                             actor=SYSTEM, lines=[receiving.LineIn(mug, 30)])

    response = client.get(reverse("inventory:product", args=[mug.public_id]))

    assert response.status_code == 200
    lines = {(row.warehouse.code, row.available, row.incoming_on) for row in response.context["warehouses"]}
    assert lines == {("lyon", 5, None), ("lille", 2, None), ("paris", 0, dt.date(2031, 5, 4))}
    body = response.content.decode()
    assert "Stoneware mug" in body and "3760000000017" in body
    assert "7 available" in body and "Incoming from May 4, 2031" in body


def test_an_inactive_or_unknown_product_is_404(client, member):
    old = make_product("OLD-1", is_active=False)
    assert client.get(reverse("inventory:product", args=[old.public_id])).status_code == 404
    assert client.get(reverse("inventory:product", args=["prd_nope"])).status_code == 404


def test_low_stock_badge_on_what_the_partner_sold_recently(client, member, lyon):
    make_product("MUG-1", stock={lyon: 12})
    make_product("MUG-2", stock={lyon: 12})
    for level in StockLevel.objects.all():
        reorder.set_reorder_levels(level=level, reorder_point=10, reorder_target=30)
    services.reserve(lines=[LineRequest("MUG-1", 5)], partner=member.partner, actor=SYSTEM, reference=("order", "a"))
    services.reserve(lines=[LineRequest("MUG-2", 5)], partner=None, actor=SYSTEM, reference=("order", "b"))

    response = client.get(CATALOGUE)

    assert {row.product.sku: row.is_low_stock for row in response.context["rows"]} == {"MUG-1": True,
                                                                                        "MUG-2": False}
    assert response.content.decode().count("Low stock") == 1


def test_the_catalogue_needs_a_login(client):
    response = client.get(CATALOGUE)
    assert response.status_code == 302 and response["Location"].startswith(reverse("account_login"))


def test_the_catalogue_reads_in_french(client, member, lyon):
    make_product("MUG-1", name_fr="Mug en grès", name_en="Stoneware mug", stock={lyon: 1})
    body = client.get(CATALOGUE, HTTP_ACCEPT_LANGUAGE="fr").content.decode()
    assert "Mug en grès" in body and "Stoneware mug" not in body
    assert "Votre prix HT" in body and "1 disponible" in body and "10,00\xa0€" in body
