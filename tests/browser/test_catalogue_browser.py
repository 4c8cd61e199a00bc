"""The catalogue in a real Chromium, as a French partner uses it: search, filter, open a product."""

import datetime as dt

import pytest
from playwright.sync_api import Page, expect

from inventory import receiving
from partners.audit import SYSTEM
from partners.models import Role
from tests.factories import PASSWORD, MembershipFactory, UserFactory, WarehouseFactory, make_product

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def browser_context_args(browser_context_args):
    return {**browser_context_args, "locale": "fr-FR"}


def test_partner_searches_the_catalogue_and_opens_a_product(page: Page, live_server):
    member = MembershipFactory(user=UserFactory(email="lea@boutique.example"), role=Role.MEMBER)
    lyon, lille = WarehouseFactory(code="lyon", name="Entrepôt de Lyon"), WarehouseFactory(code="lille",
                                                                                           name="Entrepôt de Lille")
    mug = make_product("MUG-1", name_fr="Mug en grès bleu", category="Cuisine", wholesale_price_cents=690,
                       stock={lyon: 12, lille: 3})
    make_product("MUG-2", name_fr="Mug émaillé", category="Camping")
    make_product("THE-1", name_fr="Théière en fonte", category="Cuisine", stock={lyon: 4})
    receiving.create_receipt(supplier="Terre & Grès", warehouse=lille, expected_on=dt.date(2031, 3, 2),
                             actor=SYSTEM, lines=[receiving.LineIn(mug, 40)])

    page.goto(live_server.url + "/accounts/login/")
    page.get_by_label("E-mail").fill(member.user.email)
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Connexion").click()
    page.get_by_role("navigation", name="Principal").get_by_role("link", name="Catalogue et stock").click()
    expect(page.get_by_role("heading", name="Catalogue et stock", level=1)).to_be_visible()

    page.get_by_label("Rechercher").fill("mug")
    page.get_by_label("En stock uniquement").check()
    page.get_by_role("button", name="Rechercher").click()
    rows = page.locator("table.catalogue tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("15 disponibles")
    expect(rows.first).to_contain_text("6,90")
    expect(rows.first).to_contain_text("Réassort à partir du 2 mars 2031")

    page.get_by_role("link", name="Mug en grès bleu").click()
    expect(page.get_by_role("heading", name="Mug en grès bleu", level=1)).to_be_visible()
    warehouses = page.get_by_role("table").first
    expect(warehouses).to_contain_text("Entrepôt de Lille")
    expect(warehouses).to_contain_text("attendu le 2 mars 2031")
    expect(page.get_by_role("link", name="Télécharger en CSV")).to_have_attribute("href", "/api/v1/stock/export.csv")
