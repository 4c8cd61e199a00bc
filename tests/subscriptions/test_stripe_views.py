"""The payment method pages of the portal (/billing/payment-method/), against localstripe."""

# ruff: noqa: F811 (the stripe_emulator fixture is imported, then requested by name)

import pytest
from django.test import Client
from django.urls import reverse

from partners.models import AuditLogEntry, Role
from subscriptions import services
from subscriptions.models import Invoice, PaymentAttempt, StripePaymentMethod, Subscription
from subscriptions.stripe import methods
from tests.factories import MembershipFactory
from tests.stripe_emulator import stripe_emulator  # noqa: F401

from .stripe_helpers import NEEDS_AUTHENTICATION, VISA, open_invoice, save_method, subscribed_owner

pytestmark = pytest.mark.django_db

OVERVIEW = reverse("stripe:payment_method")


def client_of(membership) -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(membership.user)
    return client


def messages_of(response) -> list[str]:
    return [str(message) for message in response.context["messages"]] if response.context else []


def test_without_stripe_keys_the_pages_send_back_to_billing(settings):
    settings.STRIPE_SECRET_KEY = settings.STRIPE_PUBLISHABLE_KEY = ""
    owner = subscribed_owner()
    response = client_of(owner).get(OVERVIEW, follow=True)
    assert response.redirect_chain[-1][0] == reverse("subscriptions:billing")
    assert any("bank transfer" in message for message in messages_of(response))


def test_the_overview_shows_the_saved_method_and_members_cannot_change_it(stripe_emulator):
    owner = subscribed_owner()
    save_method(stripe_emulator, owner, card=VISA)
    page = client_of(owner).get(OVERVIEW).content.decode()
    assert "Visa •••• 4242" in page and "12/2031" in page
    assert reverse("stripe:remove") in page and reverse("stripe:setup_card") in page

    member = MembershipFactory(partner=owner.partner, role=Role.MEMBER)
    as_member = client_of(member)
    page = as_member.get(OVERVIEW).content.decode()
    assert "Visa •••• 4242" in page and reverse("stripe:remove") not in page
    assert as_member.get(reverse("stripe:setup_card")).status_code == 403
    assert as_member.post(reverse("stripe:remove")).status_code == 403
    assert as_member.post(reverse("stripe:rail"), {"rail": "manual"}).status_code == 403
    assert methods.saved_method(owner.partner) is not None


def test_the_card_page_hands_a_setup_intent_to_stripe_js(stripe_emulator):
    owner = subscribed_owner()
    response = client_of(owner).get(reverse("stripe:setup_card"))
    page = response.content.decode()
    assert response.status_code == 200
    assert f'src="{stripe_emulator.api_base}/js.stripe.com/v3/"' in page
    assert 'data-publishable-key="pk_test_emulator"' in page and "_secret_" in page
    assert 'id="card-element"' in page and "stripe-setup.js" in page


def test_the_sepa_page_shows_the_mandate_to_accept(stripe_emulator, settings):
    owner = subscribed_owner()
    page = client_of(owner).get(reverse("stripe:setup_sepa")).content.decode()
    assert 'name="iban"' in page and 'id="mandate-accepted"' in page
    assert f"authorise (A) {settings.BIGSTOCK_SELLER['legal_name']} and Stripe" in page
    assert "within 8 weeks" in page


def test_back_from_stripe_js_the_method_is_saved_then_automatic_payment_charges_the_open_invoice(
        stripe_emulator, django_capture_on_commit_callbacks):
    owner = subscribed_owner()
    client = client_of(owner)
    client.get(reverse("stripe:setup_card"))
    setup_intent = stripe_emulator.get("/v1/setup_intents")["data"][0]
    stripe_emulator.confirm_setup(setup_intent["client_secret"], {"type": "card", "card": {
        "number": VISA, "exp_month": 3, "exp_year": 2032, "cvc": "123"}})
    response = client.get(reverse("stripe:saved"), {"setup_intent": setup_intent["id"]}, follow=True)
    assert any("Visa •••• 4242 is saved" in message for message in messages_of(response))

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("stripe:rail"), {"rail": "stripe"}, follow=True)
    assert any("Automatic payment is on" in message for message in messages_of(response))
    assert services.current_subscription(owner.partner).rail == Subscription.Rail.STRIPE
    assert Invoice.objects.get(partner=owner.partner).status == Invoice.Status.PAID
    assert AuditLogEntry.objects.filter(action="subscription.rail_changed", actor_user=owner.user).exists()

    response = client.post(reverse("stripe:rail"), {"rail": "manual"}, follow=True)
    assert services.current_subscription(owner.partner).rail == Subscription.Rail.MANUAL


def test_a_bad_or_foreign_setup_intent_gives_a_message_not_an_error(stripe_emulator):
    owner = subscribed_owner()
    client = client_of(owner)
    client.get(reverse("stripe:setup_card"))
    response = client.get(reverse("stripe:saved"), {"setup_intent": "seti_doesnotexist"}, follow=True)
    assert response.status_code == 200
    assert any("not found for your account" in message for message in messages_of(response))
    assert not StripePaymentMethod.objects.exists()


def test_stripe_errors_and_timeouts_never_reach_the_partner_as_a_500(stripe_emulator, settings):
    owner = subscribed_owner()
    save_method(stripe_emulator, owner)
    client = client_of(owner)
    settings.STRIPE_API_BASE = "http://127.0.0.1:9"
    for method, name in [("get", "stripe:setup_card"), ("get", "stripe:setup_sepa"), ("post", "stripe:remove")]:
        response = getattr(client, method)(reverse(name), follow=True)
        assert response.status_code == 200, name
        assert any("try again" in message for message in messages_of(response)), name
    response = client.get(reverse("stripe:saved"), {"setup_intent": "seti_x"}, follow=True)
    assert response.status_code == 200 and any("try again" in m for m in messages_of(response))
    assert methods.saved_method(owner.partner) is not None  # nothing changed


def test_removing_the_method_from_the_portal(stripe_emulator):
    owner = subscribed_owner()
    save_method(stripe_emulator, owner)
    Subscription.objects.filter(partner=owner.partner).update(rail="stripe")
    response = client_of(owner).post(reverse("stripe:remove"), follow=True)
    assert any("now paid by bank transfer" in message for message in messages_of(response))
    assert methods.saved_method(owner.partner) is None
    assert services.current_subscription(owner.partner).rail == Subscription.Rail.MANUAL


def test_the_partner_confirms_a_payment_the_bank_wants_authenticated(stripe_emulator):
    owner = subscribed_owner()
    save_method(stripe_emulator, owner, card=NEEDS_AUTHENTICATION)
    Subscription.objects.filter(partner=owner.partner).update(rail="stripe")
    invoice = open_invoice(owner.partner)
    services.collect_invoice(invoice_id=invoice.pk)
    attempt = PaymentAttempt.objects.get()
    client = client_of(owner)
    assert "asks you to confirm a payment" in client.get(OVERVIEW).content.decode()
    page = client.get(reverse("stripe:authenticate")).content.decode()
    assert invoice.number in page and "stripe-authenticate.js" in page
    client_secret = stripe_emulator.get(f"/v1/payment_intents/{attempt.stripe_payment_intent_id}")["client_secret"]
    assert f'data-client-secret="{client_secret}"' in page

    stripe_emulator.authenticate(client_secret, success=True)  # what Stripe.js does with the cardholder
    response = client.get(reverse("stripe:authenticated"), {"payment_intent": attempt.stripe_payment_intent_id},
                          follow=True)
    assert any(f"invoice {invoice.number} is paid" in message for message in messages_of(response))
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.PAID


def test_another_partners_payment_cannot_be_confirmed_here(stripe_emulator):
    owner = subscribed_owner()
    save_method(stripe_emulator, owner, card=NEEDS_AUTHENTICATION)
    Subscription.objects.filter(partner=owner.partner).update(rail="stripe")
    services.collect_invoice(invoice_id=open_invoice(owner.partner).pk)
    attempt = PaymentAttempt.objects.get()
    intruder = subscribed_owner()
    response = client_of(intruder).get(reverse("stripe:authenticated"),
                                       {"payment_intent": attempt.stripe_payment_intent_id}, follow=True)
    assert any("not found for your account" in message for message in messages_of(response))
    assert attempt.invoice.number not in response.content.decode()


def test_the_billing_page_tag_summarises_the_saved_method(stripe_emulator):
    from django.template import Context, Template

    owner = subscribed_owner()
    save_method(stripe_emulator, owner)
    html = Template("{% load stripe_billing %}{% stripe_payment_summary %}").render(Context({
        "partner": owner.partner, "subscription": services.current_subscription(owner.partner),
        "can": {"manage_billing": True}}))
    assert "Visa •••• 4242" in html and OVERVIEW in html
    assert Template("{% load stripe_billing %}{% stripe_is_enabled as on %}{{ on }}").render(Context()) == "True"


def test_a_canceled_payment_or_refund_reads_as_cancelled_in_french_not_as_a_terminated_contract():
    from django.utils import translation

    from subscriptions.models import StripeRefund

    with translation.override("fr"):
        assert str(PaymentAttempt.Status.CANCELED.label) == "Annulée"
        assert str(StripeRefund.Status.CANCELED.label) == "Annulé"
        assert str(Subscription.Status.CANCELED.label) == "Résilié"
