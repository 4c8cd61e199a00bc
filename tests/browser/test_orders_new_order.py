"""The new-order form in a real Chromium: search a SKU, add it, submit, land on the order's page."""

import re

import pytest
from playwright.sync_api import Page, expect

from orders.models import Order
from partners.models import Role
from tests.browser.sessions import logged_in
from tests.factories import PASSWORD, MembershipFactory, UserFactory, WarehouseFactory, make_product

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def browser_context_args(browser_context_args):
    """English labels: the French catalogue may word them differently over time."""
    return {**browser_context_args, "locale": "en-GB"}


def test_owner_searches_a_sku_adds_it_and_places_the_order(page: Page, live_server):
    owner = MembershipFactory(user=UserFactory(email="nina@jardins.example"), role=Role.OWNER)
    lyon = WarehouseFactory(code="lyon")
    make_product("TEA-GREEN", name_en="Green tea 100 g", name_fr="Thé vert 100 g", stock={lyon: 12},
                 wholesale_price_cents=450)
    make_product("CUP-STONE", name_en="Stoneware cup", name_fr="Tasse en grès", stock={lyon: 4})

    page.goto(live_server.url + "/accounts/login/?next=/orders/new/")
    page.get_by_label("Email").fill(owner.user.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign In").click()
    expect(page).to_have_url(live_server.url + "/orders/new/")

    page.get_by_label("SKU, name or EAN").fill("green")
    results = page.locator("#product-results")
    expect(results.get_by_role("cell", name="TEA-GREEN", exact=True)).to_be_visible()
    expect(results.get_by_role("cell", name="12", exact=True)).to_be_visible()  # live availability
    expect(results).not_to_contain_text("CUP-STONE")
    results.get_by_role("button", name="Add TEA-GREEN to the order").click()

    added = page.locator("#order-lines tr", has=page.locator('input[value="TEA-GREEN"]'))
    expect(added).to_contain_text("Green tea 100 g")
    added.get_by_label("Quantity").fill("3")

    page.get_by_label("Your reference").fill("WEB-42")
    page.get_by_label("Recipient name").fill("Jeanne Martin")
    page.get_by_label("Address", exact=True).fill("5 rue des Lilas")
    page.get_by_label("Postcode").fill("69003")
    page.get_by_label("City").fill("Lyon")
    page.get_by_label("Phone").fill("+33612345678")
    page.get_by_role("button", name="Submit the order").click()

    expect(page).to_have_url(re.compile(r"/orders/ord_\w+/$"))
    expect(page.get_by_role("heading", name=re.compile("Order WEB-42"), level=1)).to_be_visible()
    expect(page.locator("section[aria-labelledby=lines-heading] tbody tr")).to_contain_text("TEA-GREEN")
    order = Order.objects.get(reference="WEB-42")
    assert [(line.sku, line.quantity) for line in order.lines.all()] == [("TEA-GREEN", 3)]


def test_a_search_typed_before_the_page_scripts_load_still_answers(page: Page, live_server):
    """A quick typist (or a slow network) can fill the search box before htmx has started."""
    owner = MembershipFactory(role=Role.OWNER)
    make_product("TEA-GREEN", name_en="Green tea 100 g", stock={WarehouseFactory(code="lyon"): 12})
    held_back = []
    page.route("**/vendor/htmx-*.js", lambda route: held_back.append(route))
    logged_in(page, live_server, owner.user)

    page.goto(live_server.url + "/orders/new/", wait_until="commit")
    page.get_by_label("SKU, name or EAN").fill("green")
    for _ in range(500):  # the page asks for htmx once its HTML is parsed: at most 10 s
        if held_back:
            break
        page.wait_for_timeout(20)
    assert held_back, "the page never asked for htmx"
    held_back[0].continue_()

    expect(page.locator("#product-results").get_by_role("cell", name="TEA-GREEN", exact=True)).to_be_visible()
