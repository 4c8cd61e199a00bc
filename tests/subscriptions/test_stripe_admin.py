"""Staff screens of the Stripe rail: attempts, refunds, stored events (replay), mismatches."""

# ruff: noqa: F811 (the stripe_emulator fixture is imported, then requested by name)

import pytest
from django.urls import reverse

from subscriptions import rails
from subscriptions.models import (
    PaymentAttempt,
    StripeCustomer,
    StripeEvent,
    StripeIssue,
    StripePaymentMethod,
    StripeRefund,
    Subscription,
)
from subscriptions.stripe import notify
from tests.factories import UserFactory
from tests.stripe_emulator import stripe_emulator  # noqa: F401

from .stripe_helpers import IBAN_FAILING, open_invoice, save_method, subscribed_owner

pytestmark = pytest.mark.django_db

MODELS = [PaymentAttempt, StripeRefund, StripeEvent, StripeIssue, StripeCustomer, StripePaymentMethod]


@pytest.fixture
def staff(client):
    user = UserFactory(is_staff=True, is_superuser=True)
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    client.force_login(user)
    return user


def url(model, view="changelist", *args):
    return reverse(f"admin:subscriptions_{model._meta.model_name}_{view}", args=args)


def test_every_stripe_screen_lists_and_shows_read_only(stripe_emulator, staff, client):
    owner = subscribed_owner()
    save_method(stripe_emulator, owner)
    Subscription.objects.filter(partner=owner.partner).update(rail="stripe")
    rails.rail_for("stripe").collect(open_invoice(owner.partner))
    notify.report(kind=StripeIssue.Kind.UNKNOWN_CUSTOMER, stripe_object_id="cus_x", message="who?")
    StripeEvent.objects.create(stripe_id="evt_1", type="invoice.created", payload={"id": "evt_1"})
    attempt = PaymentAttempt.objects.get()
    for model in MODELS:
        response = client.get(url(model))
        assert response.status_code == 200, model
        assert client.get(url(model, "add")).status_code == 403, model
        first = model.objects.first()
        if first is not None:
            assert client.get(url(model, "change", first.pk)).status_code == 200, model
    assert attempt.stripe_payment_intent_id in client.get(url(PaymentAttempt)).content.decode()


def test_staff_replay_an_event_and_resolve_an_issue(stripe_emulator, staff, client, django_capture_on_commit_callbacks):
    owner = subscribed_owner()
    save_method(stripe_emulator, owner, iban=IBAN_FAILING)
    Subscription.objects.filter(partner=owner.partner).update(rail="stripe")
    rails.rail_for("stripe").collect(open_invoice(owner.partner))
    attempt = PaymentAttempt.objects.get()
    [delivery] = stripe_emulator.wait_for("payment_intent.payment_failed")
    event = StripeEvent.objects.create(stripe_id=delivery.event["id"], type=delivery.event["type"],
                                       object_id=attempt.stripe_payment_intent_id, payload=delivery.event,
                                       status=StripeEvent.Status.FAILED, error="APIConnectionError")
    response = client.post(url(StripeEvent), {"action": "replay", "_selected_action": [event.pk]}, follow=True)
    assert "1 event processed again" in response.content.decode()
    event.refresh_from_db()
    attempt.refresh_from_db()
    assert event.status == StripeEvent.Status.PROCESSED and attempt.status == PaymentAttempt.Status.FAILED

    issue = notify.report(kind=StripeIssue.Kind.UNKNOWN_PAYMENT, stripe_object_id="pi_x", message="?")
    client.post(url(StripeIssue), {"action": "mark_resolved", "_selected_action": [issue.pk]})
    issue.refresh_from_db()
    assert issue.resolved_at is not None and issue.resolved_by == staff
    again = notify.report(kind=StripeIssue.Kind.UNKNOWN_PAYMENT, stripe_object_id="pi_x", message="?")
    assert again.pk != issue.pk  # a new occurrence after it was resolved is a new issue
