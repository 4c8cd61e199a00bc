"""The portal in a real Chromium."""

import pytest
from playwright.sync_api import Page, expect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def browser_context_args(browser_context_args):
    """A partner's browser set to French, as most are."""
    return {**browser_context_args, "locale": "fr-FR"}


def test_visitor_opens_the_portal_switches_language_and_sees_the_login_page(page: Page, live_server):
    page.goto(live_server.url + "/")
    expect(page).to_have_url(live_server.url + "/accounts/login/?next=/")
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    expect(page.get_by_role("heading", name="Connexion")).to_be_visible()

    page.get_by_label("Langue").select_option("en")
    page.get_by_role("button", name="Changer de langue").click()

    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_role("heading", name="Sign In")).to_be_visible()
    expect(page.get_by_label("Email")).to_be_visible()
