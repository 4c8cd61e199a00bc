"""The card and SEPA forms in a real Chromium, with the emulator's Stripe.js (localstripe serves a
stand-in at /js.stripe.com/v3/ that talks to the emulator like Stripe.js talks to Stripe)."""

# ruff: noqa: F811 (the stripe_emulator fixture is imported, then requested by name)

import pytest
from playwright.sync_api import Page, expect

from subscriptions.models import StripePaymentMethod
from subscriptions.stripe import methods
from tests.browser.sessions import logged_in
from tests.stripe_emulator import stripe_emulator  # noqa: F401
from tests.subscriptions.stripe_helpers import subscribed_owner

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def browser_context_args(browser_context_args):
    return {**browser_context_args, "locale": "en-GB"}


def test_owner_saves_a_card_with_stripe_js(page: Page, live_server, stripe_emulator):
    owner = subscribed_owner()
    logged_in(page, live_server, owner.user)
    page.goto(live_server.url + "/billing/payment-method/")
    page.get_by_role("button", name="Add a card").click()
    expect(page).to_have_url(live_server.url + "/billing/payment-method/card/")
    form = page.locator("#card-element")
    form.get_by_placeholder("number").fill("4242424242424242")
    form.get_by_placeholder("exp_month").fill("12")
    form.get_by_placeholder("exp_year").fill("31")
    form.get_by_placeholder("cvc").fill("123")
    page.get_by_role("button", name="Save the card").click()

    expect(page).to_have_url(live_server.url + "/billing/payment-method/")
    expect(page.get_by_text("Visa •••• 4242 is saved")).to_be_visible()
    method = methods.saved_method(owner.partner)
    assert (method.kind, method.last4, method.exp_year) == ("card", "4242", 2031)
    assert stripe_emulator.get(f"/v1/payment_methods/{method.stripe_id}")["customer"] == method.customer.stripe_id


def test_the_sepa_mandate_must_be_accepted_before_saving(page: Page, live_server, stripe_emulator):
    owner = subscribed_owner()
    logged_in(page, live_server, owner.user)
    page.goto(live_server.url + "/billing/payment-method/sepa/")
    page.get_by_label("IBAN").fill("DE89 3704 0044 0532 0130 00")
    page.get_by_role("button", name="Save the mandate").click()
    expect(page.locator("#stripe-error")).to_have_text("Accept the mandate to continue.")
    assert not StripePaymentMethod.objects.exists()

    page.get_by_label("I accept this mandate").check()
    page.get_by_role("button", name="Save the mandate").click()
    expect(page).to_have_url(live_server.url + "/billing/payment-method/")
    expect(page.get_by_text("SEPA DE •••• 3000 is saved")).to_be_visible()
    expect(page.get_by_text("NXDSYREGC9PSMKWY")).to_be_visible()  # the mandate reference
