"""Stripe webhooks in at /webhooks/stripe/: signatures verified by the stripe library, events
stored once, processed by re-reading the object from Stripe (localstripe)."""

# ruff: noqa: F811 (the stripe_emulator fixture is imported, then requested by name)

import datetime as dt
import json
import time

import pytest
import stripe
from django.core import mail
from django.test import Client

from partners.audit import SYSTEM
from subscriptions import rails, services
from subscriptions.models import (
    Invoice,
    PaymentAttempt,
    StripeCustomer,
    StripeEvent,
    StripeIssue,
    StripeRefund,
    Subscription,
)
from subscriptions.stripe import methods, reconciliation, webhooks
from tests.stripe_emulator import WEBHOOK_SECRET, stripe_emulator  # noqa: F401

from .stripe_helpers import IBAN_FAILING, NEEDS_AUTHENTICATION, open_invoice, save_method, subscribed_owner

pytestmark = pytest.mark.django_db

URL = "/webhooks/stripe/"
Status = PaymentAttempt.Status


def post(body: bytes | str, signature: str | None, client: Client | None = None):
    headers = {"HTTP_STRIPE_SIGNATURE": signature} if signature is not None else {}
    return (client or Client()).post(URL, data=body, content_type="application/json", **headers)


def signed(event_type: str, obj: dict, *, event_id: str | None = None, timestamp: int | None = None,
           secret: str = WEBHOOK_SECRET) -> tuple[str, str]:
    """An event as Stripe would send it, signed with the stripe library's own scheme."""
    payload = json.dumps({
        "id": event_id or f"evt_test_{time.monotonic_ns()}", "object": "event", "type": event_type,
        "api_version": "2026-10-28.endive", "created": int(time.time()), "livemode": False,
        "data": {"object": obj},
    })
    return payload, stripe.WebhookSignature.generate_signature_header(payload, secret, timestamp=timestamp)


def stripe_collecting(emulator, **method):
    """A partner paying automatically, its open invoice, and the first attempt made."""
    owner = subscribed_owner()
    save_method(emulator, owner, **method)
    Subscription.objects.filter(partner=owner.partner).update(rail="stripe")
    invoice = open_invoice(owner.partner)
    rails.rail_for("stripe").collect(invoice)
    return owner, invoice, PaymentAttempt.objects.get(invoice=invoice)


# --- Deliveries from the emulator, with its real signatures ------------------------------------


def test_a_failed_sepa_debit_reported_by_webhook_fails_the_attempt(stripe_emulator, django_capture_on_commit_callbacks):
    owner, invoice, attempt = stripe_collecting(stripe_emulator, iban=IBAN_FAILING)
    assert attempt.status == Status.PROCESSING
    [delivery] = stripe_emulator.wait_for("payment_intent.payment_failed")
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        response = post(delivery.body, delivery.signature)
    assert response.status_code == 200 and response.json()["duplicate"] is False
    event = StripeEvent.objects.get()
    assert (event.stripe_id, event.status, event.partner) == (delivery.event["id"], StripeEvent.Status.PROCESSED,
                                                              owner.partner)
    attempt.refresh_from_db()
    assert attempt.status == Status.FAILED and attempt.next_retry_at is not None
    assert len(mail.outbox) == 1 and invoice.number in mail.outbox[0].subject


def test_a_success_reported_before_stripes_answer_was_stored_pays_the_invoice(
        stripe_emulator, django_capture_on_commit_callbacks):
    _owner, invoice, attempt = stripe_collecting(stripe_emulator)
    [delivery] = stripe_emulator.wait_for("payment_intent.succeeded")
    # As if the answer to the create request had been lost: only the metadata names the attempt.
    Invoice.objects.filter(pk=invoice.pk).update(status=Invoice.Status.OPEN, amount_paid_cents=0, paid_at=None)
    invoice.payments.all().delete()
    PaymentAttempt.objects.filter(pk=attempt.pk).update(status=Status.CREATED, stripe_payment_intent_id="")
    with django_capture_on_commit_callbacks(execute=True):
        assert post(delivery.body, delivery.signature).status_code == 200
    attempt.refresh_from_db()
    invoice.refresh_from_db()
    assert attempt.status == Status.SUCCEEDED and attempt.stripe_payment_intent_id == delivery.event["data"]["object"]["id"]
    assert invoice.status == Invoice.Status.PAID and invoice.payments.get().rail == "stripe"


def test_a_redelivered_event_answers_200_and_does_nothing_more(stripe_emulator, django_capture_on_commit_callbacks):
    _owner, _invoice, _attempt = stripe_collecting(stripe_emulator, iban=IBAN_FAILING)
    [delivery] = stripe_emulator.wait_for("payment_intent.payment_failed")
    with django_capture_on_commit_callbacks(execute=True):
        first = post(delivery.body, delivery.signature)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        second = post(delivery.body, delivery.signature)
    assert first.status_code == second.status_code == 200
    assert second.json()["duplicate"] is True and not callbacks
    assert StripeEvent.objects.get().process_count == 1


def test_a_deleted_customer_falls_back_to_bank_transfer(stripe_emulator, django_capture_on_commit_callbacks):
    owner = subscribed_owner()
    method = save_method(stripe_emulator, owner)
    methods.switch_rail(subscription=services.current_subscription(owner.partner), rail="stripe", actor=SYSTEM)
    stripe_emulator.delete(f"/v1/customers/{method.customer.stripe_id}")  # in the Stripe dashboard, say
    [delivery] = stripe_emulator.wait_for("customer.deleted")
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        assert post(delivery.body, delivery.signature).status_code == 200
    assert StripeCustomer.objects.get().deleted_at is not None
    assert methods.saved_method(owner.partner) is None
    assert services.current_subscription(owner.partner).rail == Subscription.Rail.MANUAL
    assert StripeIssue.objects.filter(kind=StripeIssue.Kind.CUSTOMER_DELETED, partner=owner.partner).exists()
    assert len(mail.outbox) == 1 and owner.user.email in mail.outbox[0].to


@pytest.mark.django_db(transaction=True)
def test_the_emulator_delivers_to_the_running_site_which_settles_the_payment(stripe_emulator, live_server):
    stripe_emulator.send_webhooks_to(live_server.url + URL)
    _owner, _invoice, attempt = stripe_collecting(stripe_emulator, iban=IBAN_FAILING)
    assert attempt.status == Status.PROCESSING
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not StripeEvent.objects.filter(
            type="payment_intent.payment_failed", status=StripeEvent.Status.PROCESSED).exists():
        time.sleep(0.1)
    attempt.refresh_from_db()
    assert attempt.status == Status.FAILED
    assert StripeEvent.objects.filter(type="customer.created").exists()  # stored and acknowledged too


# --- Rejected or ignored -------------------------------------------------------------------------


def test_forged_missing_and_wrong_secret_signatures_are_refused(stripe_emulator):
    payload, header = signed("payment_intent.succeeded", {"id": "pi_x", "object": "payment_intent"})
    assert post(payload.replace("pi_x", "pi_y"), header).status_code == 400  # body changed after signing
    assert post(payload, None).status_code == 400
    assert post(payload, "t=1,v1=deadbeef").status_code == 400
    _same, other_secret = signed("payment_intent.succeeded", {"id": "pi_x"}, secret="whsec_someone_else")
    assert post(payload, other_secret).status_code == 400
    assert not StripeEvent.objects.exists()


def test_a_stale_signature_is_refused_after_five_minutes(stripe_emulator, time_machine):
    payload, header = signed("payment_intent.succeeded", {"id": "pi_x"}, timestamp=int(time.time()) - 301)
    response = post(payload, header)
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_signature"
    fresh, fresh_header = signed("payment_intent.succeeded", {"id": "pi_x"}, timestamp=int(time.time()) - 290)
    time_machine.move_to(dt.datetime.now(tz=dt.UTC) + dt.timedelta(minutes=6))  # replayed later by an attacker
    assert post(fresh, fresh_header).status_code == 400
    assert not StripeEvent.objects.exists()


def test_without_a_webhook_secret_every_event_is_refused(settings):
    settings.STRIPE_WEBHOOK_SECRET = ""
    payload, header = signed("payment_intent.succeeded", {"id": "pi_x"}, secret="")
    assert post(payload, header).status_code == 400


def test_the_endpoint_takes_no_csrf_token_and_only_post(stripe_emulator):
    payload, header = signed("balance.available", {"id": "bal"})
    assert post(payload, header, client=Client(enforce_csrf_checks=True)).status_code == 200
    assert Client().get(URL).status_code == 405


def test_an_unknown_type_is_stored_and_acknowledged(stripe_emulator, django_capture_on_commit_callbacks):
    payload, header = signed("invoice.created", {"id": "in_123", "object": "invoice"}, event_id="evt_unknown_type")
    with django_capture_on_commit_callbacks(execute=True):
        assert post(payload, header).status_code == 200
    event = StripeEvent.objects.get()
    assert (event.stripe_id, event.status, event.object_id) == ("evt_unknown_type", StripeEvent.Status.IGNORED,
                                                                "in_123")


def test_a_payment_of_an_unknown_customer_is_stored_and_reported(stripe_emulator, django_capture_on_commit_callbacks):
    customer = stripe_emulator.post("/v1/customers", {"name": "Not a partner"})
    intent = stripe_emulator.post("/v1/payment_intents", {
        "amount": "1000", "currency": "eur", "customer": customer["id"], "payment_method": "pm_card_visa",
        "confirm": "true"})
    payload, header = signed("payment_intent.succeeded", intent)
    with django_capture_on_commit_callbacks(execute=True):
        assert post(payload, header).status_code == 200
    assert StripeEvent.objects.get().status == StripeEvent.Status.UNMATCHED
    issue = StripeIssue.objects.get()
    assert (issue.kind, issue.stripe_object_id) == (StripeIssue.Kind.UNKNOWN_CUSTOMER, customer["id"])


def test_events_are_acted_on_as_stripe_holds_the_object_now_not_as_sent(
        stripe_emulator, django_capture_on_commit_callbacks):
    _owner, invoice, attempt = stripe_collecting(stripe_emulator, iban=IBAN_FAILING)
    [failed] = stripe_emulator.wait_for("payment_intent.payment_failed")
    # A forged-looking but correctly signed "succeeded" about a PaymentIntent that actually failed:
    stale_object = {**failed.event["data"]["object"], "status": "succeeded"}
    payload, header = signed("payment_intent.succeeded", stale_object)
    with django_capture_on_commit_callbacks(execute=True):
        assert post(payload, header).status_code == 200
    attempt.refresh_from_db()
    invoice.refresh_from_db()
    assert attempt.status == Status.FAILED and invoice.status == Invoice.Status.OPEN


# --- Types the emulator does not send: signed here, objects re-read from the emulator ----------


def test_a_canceled_payment_intent_cancels_the_attempt(stripe_emulator, django_capture_on_commit_callbacks):
    _owner, _invoice, attempt = stripe_collecting(stripe_emulator, card=NEEDS_AUTHENTICATION)
    assert attempt.status == Status.REQUIRES_ACTION
    intent = stripe_emulator.post(f"/v1/payment_intents/{attempt.stripe_payment_intent_id}/cancel", {})
    payload, header = signed("payment_intent.canceled", intent)
    with django_capture_on_commit_callbacks(execute=True):
        post(payload, header)
    attempt.refresh_from_db()
    assert attempt.status == Status.CANCELED


def test_charge_refunded_confirms_our_refund_and_reports_one_made_outside(
        stripe_emulator, django_capture_on_commit_callbacks):
    _owner, invoice, attempt = stripe_collecting(stripe_emulator)
    with django_capture_on_commit_callbacks(execute=True):
        services.issue_credit_note(invoice=invoice, subtotal_cents=1000, reason="goodwill", description="x",
                                   actor=SYSTEM)
    ours = StripeRefund.objects.get()
    outside = stripe_emulator.post("/v1/refunds", {"payment_intent": attempt.stripe_payment_intent_id, "amount": "500"})
    charge = stripe_emulator.get(f"/v1/payment_intents/{attempt.stripe_payment_intent_id}")["latest_charge"]
    payload, header = signed("charge.refunded", charge)
    with django_capture_on_commit_callbacks(execute=True):
        assert post(payload, header).status_code == 200
    ours.refresh_from_db()
    assert ours.status == StripeRefund.Status.SUCCEEDED
    issue = StripeIssue.objects.get(kind=StripeIssue.Kind.OUTSIDE_REFUND)
    assert issue.stripe_object_id == outside["id"] and issue.invoice == invoice


def test_a_dispute_flags_the_invoice_and_tells_staff(stripe_emulator, settings, django_capture_on_commit_callbacks):
    settings.STRIPE_ALERT_EMAIL = "billing-team@bigstock.example"
    _owner, invoice, attempt = stripe_collecting(stripe_emulator)
    charge_id = stripe_emulator.get(f"/v1/payment_intents/{attempt.stripe_payment_intent_id}")["latest_charge"]["id"]
    dispute = {"id": "dp_test_1", "object": "dispute", "charge": charge_id, "amount": attempt.amount_cents,
               "reason": "fraudulent", "status": "needs_response"}
    payload, header = signed("charge.dispute.created", dispute)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        assert post(payload, header).status_code == 200
        post(payload, header)  # a redelivery flags nothing twice
    assert invoice.timeline.filter(kind="disputed").count() == 1
    issue = StripeIssue.objects.get(kind=StripeIssue.Kind.DISPUTE)
    assert issue.invoice == invoice and "fraudulent" in issue.message
    [alert] = mail.outbox
    assert alert.to == ["billing-team@bigstock.example"] and invoice.number in alert.body


def test_a_method_detached_in_stripe_is_forgotten_and_the_partner_told(
        stripe_emulator, django_capture_on_commit_callbacks):
    owner = subscribed_owner()
    method = save_method(stripe_emulator, owner)
    Subscription.objects.filter(partner=owner.partner).update(rail="stripe")
    detached = stripe_emulator.post(f"/v1/payment_methods/{method.stripe_id}/detach", {})
    payload, header = signed("payment_method.detached", detached)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        assert post(payload, header).status_code == 200
    assert methods.saved_method(owner.partner) is None
    assert services.current_subscription(owner.partner).rail == Subscription.Rail.MANUAL
    assert len(mail.outbox) == 1


def test_an_event_stripe_cannot_be_reached_for_is_processed_again_by_the_sweep(
        stripe_emulator, settings, django_capture_on_commit_callbacks):
    _owner, _invoice, attempt = stripe_collecting(stripe_emulator, iban=IBAN_FAILING)
    [delivery] = stripe_emulator.wait_for("payment_intent.payment_failed")
    emulator_base, settings.STRIPE_API_BASE = settings.STRIPE_API_BASE, "http://127.0.0.1:9"
    with django_capture_on_commit_callbacks(execute=True):
        assert post(delivery.body, delivery.signature).status_code == 200  # stored: Stripe will not resend it
    event = StripeEvent.objects.get()
    assert event.status == StripeEvent.Status.FAILED and "APIConnectionError" in event.error
    settings.STRIPE_API_BASE = emulator_base
    assert reconciliation.sweep()["events"] == 1
    event.refresh_from_db()
    attempt.refresh_from_db()
    assert event.status == StripeEvent.Status.PROCESSED and attempt.status == Status.FAILED


def test_replaying_a_processed_event_changes_nothing(stripe_emulator, django_capture_on_commit_callbacks):
    _owner, invoice, _attempt = stripe_collecting(stripe_emulator)
    [delivery] = stripe_emulator.wait_for("payment_intent.succeeded")
    with django_capture_on_commit_callbacks(execute=True):
        post(delivery.body, delivery.signature)
    event = webhooks.process(event_id=StripeEvent.objects.get().pk, replay=True)
    assert event.status == StripeEvent.Status.PROCESSED and event.process_count == 2
    invoice.refresh_from_db()
    assert invoice.payments.count() == 1 and invoice.status == Invoice.Status.PAID


def test_a_method_set_up_by_a_partner_who_never_came_back_is_saved_from_the_webhook(
        stripe_emulator, django_capture_on_commit_callbacks):
    owner = subscribed_owner()
    client_secret = methods.start_setup(partner=owner.partner, kind="sepa_debit")
    setup = stripe_emulator.confirm_setup(client_secret, {"type": "sepa_debit", "sepa_debit": {
        "iban": "DE89370400440532013000"}})
    payload, header = signed("setup_intent.succeeded", setup)
    with django_capture_on_commit_callbacks(execute=True):
        assert post(payload, header).status_code == 200
    method = methods.saved_method(owner.partner)
    assert (method.kind, method.last4, method.stripe_id) == ("sepa_debit", "3000", setup["payment_method"])
    assert StripeEvent.objects.get().partner == owner.partner
