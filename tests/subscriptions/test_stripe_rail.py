"""The Stripe rail against localstripe: customers, saved methods, off-session collection,
declines and the dunning retry, SEPA, authentication, refunds and reconciliation."""

# ruff: noqa: F811 (the stripe_emulator fixture is imported, then requested by name)

import datetime as dt

import pytest
from django.core import mail
from django.utils import formats, timezone, translation

from partners.audit import SYSTEM, Actor
from partners.models import AuditLogEntry
from subscriptions import rails, services
from subscriptions.models import (
    Invoice,
    PaymentAttempt,
    StripeCustomer,
    StripeIssue,
    StripePaymentMethod,
    StripeRefund,
    Subscription,
)
from subscriptions.stripe import collection, methods, reconciliation, refunds
from subscriptions.stripe.errors import (
    NoPaymentMethod,
    PaymentMethodRefused,
    StripeNotOffered,
    StripeUnavailable,
)
from tests.stripe_emulator import stripe_emulator  # noqa: F401

from .stripe_helpers import (
    DECLINED_WHEN_CHARGED,
    IBAN,
    IBAN_FAILING,
    NEEDS_AUTHENTICATION,
    automatic_payment,
    open_invoice,
    save_method,
    subscribed_owner,
)

pytestmark = pytest.mark.django_db

Status = PaymentAttempt.Status


def wait_until(check, timeout_s: float = 5):
    """The emulator settles SEPA debits about half a second later."""
    import time

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


# --- Configuration -----------------------------------------------------------------------------


def test_without_keys_the_rail_is_not_offered_and_collects_nothing(settings):
    settings.STRIPE_SECRET_KEY = settings.STRIPE_PUBLISHABLE_KEY = ""
    owner = subscribed_owner()
    with pytest.raises(StripeNotOffered):
        methods.start_setup(partner=owner.partner, kind="card")
    outcome = rails.rail_for("stripe").collect(open_invoice(owner.partner))
    assert outcome.status == "pending" and "bank transfer" in outcome.detail
    assert not PaymentAttempt.objects.exists()


# --- Customer ----------------------------------------------------------------------------------


def test_one_customer_per_partner_with_its_billing_details_created_once(stripe_emulator):
    owner = subscribed_owner()
    partner = owner.partner
    partner.vat_number = "FR44732829320"
    partner.save()
    first = methods.ensure_customer(partner=partner)
    again = methods.ensure_customer(partner=partner)
    assert first.pk == again.pk and StripeCustomer.objects.count() == 1
    customers = stripe_emulator.get("/v1/customers")["data"]
    assert [c["id"] for c in customers] == [first.stripe_id]  # the emulator ignores idempotency keys: we did not
    customer = customers[0]
    assert customer["name"] == partner.legal_name and customer["email"] == partner.billing_email
    assert customer["address"]["postal_code"] == partner.postcode and customer["address"]["country"] == "FR"
    assert customer["metadata"]["partner"] == partner.public_id
    assert [t["value"] for t in stripe_emulator.get(f"/v1/customers/{first.stripe_id}/tax_ids")["data"]] == [
        "FR44732829320"]


def test_changed_billing_details_update_the_customer(stripe_emulator, django_capture_on_commit_callbacks):
    owner = subscribed_owner()
    customer = methods.ensure_customer(partner=owner.partner)
    partner = owner.partner
    partner.billing_email = "new-accounts@boutique.example"
    partner.city = "Lyon"
    with django_capture_on_commit_callbacks(execute=True):
        partner.save()
    stored = stripe_emulator.get(f"/v1/customers/{customer.stripe_id}")
    assert stored["email"] == "new-accounts@boutique.example" and stored["address"]["city"] == "Lyon"
    assert StripeCustomer.objects.get().details_hash == methods._details_hash(partner)


# --- Saving methods ----------------------------------------------------------------------------


def test_a_saved_card_is_attached_to_the_customer_and_becomes_its_default(stripe_emulator):
    owner = subscribed_owner()
    method = save_method(stripe_emulator, owner)
    assert (method.kind, method.brand, method.last4, method.exp_month, method.exp_year) == ("card", "visa", "4242", 12,
                                                                                           2031)
    stored = stripe_emulator.get(f"/v1/payment_methods/{method.stripe_id}")
    assert stored["customer"] == method.customer.stripe_id  # attached explicitly: the emulator does not
    customer = stripe_emulator.get(f"/v1/customers/{method.customer.stripe_id}")
    assert customer["invoice_settings"]["default_payment_method"] == method.stripe_id
    assert AuditLogEntry.objects.filter(action="payment_method.saved", partner=owner.partner).exists()


def test_a_sepa_mandate_keeps_its_reference_and_replaces_the_card(stripe_emulator, django_capture_on_commit_callbacks):
    owner = subscribed_owner()
    card = save_method(stripe_emulator, owner)
    with django_capture_on_commit_callbacks(execute=True):
        sepa = save_method(stripe_emulator, owner, iban=IBAN)
    assert (sepa.kind, sepa.country, sepa.last4) == ("sepa_debit", "DE", "3000")
    assert sepa.mandate_reference and sepa.mandate_accepted_at
    card.refresh_from_db()
    assert card.removed_at is not None and methods.saved_method(owner.partner) == sepa
    assert stripe_emulator.get(f"/v1/payment_methods/{card.stripe_id}")["customer"] is None  # the old one detached


def test_saving_twice_the_same_setup_is_a_no_op(stripe_emulator):
    owner = subscribed_owner()
    client_secret = methods.start_setup(partner=owner.partner, kind="card")
    confirmed = stripe_emulator.confirm_setup(client_secret, {"type": "card", "card": {
        "number": "4242424242424242", "exp_month": 1, "exp_year": 2030, "cvc": "123"}})
    first = methods.save_payment_method(partner=owner.partner, setup_intent_id=confirmed["id"], actor=SYSTEM)
    second = methods.save_payment_method(partner=owner.partner, setup_intent_id=confirmed["id"], actor=SYSTEM)
    assert first == second and StripePaymentMethod.objects.count() == 1


def test_another_partners_setup_intent_is_refused(stripe_emulator):
    owner, other = subscribed_owner(), subscribed_owner()
    client_secret = methods.start_setup(partner=owner.partner, kind="card")
    confirmed = stripe_emulator.confirm_setup(client_secret, {"type": "card", "card": {
        "number": "4242424242424242", "exp_month": 1, "exp_year": 2030, "cvc": "123"}})
    methods.ensure_customer(partner=other.partner)
    with pytest.raises(PaymentMethodRefused):
        methods.save_payment_method(partner=other.partner, setup_intent_id=confirmed["id"], actor=SYSTEM)
    assert not StripePaymentMethod.objects.exists()


def test_a_card_declined_at_setup_is_not_saved(stripe_emulator):
    owner = subscribed_owner()
    client_secret = methods.start_setup(partner=owner.partner, kind="card")
    answer = stripe_emulator.confirm_setup(client_secret, {"type": "card", "card": {
        "number": "4000000000000002", "exp_month": 1, "exp_year": 2030, "cvc": "123"}})
    assert answer["error"]["code"] == "card_declined"
    with pytest.raises(PaymentMethodRefused):
        methods.save_payment_method(partner=owner.partner, setup_intent_id=client_secret.split("_secret_")[0],
                                    actor=SYSTEM)


def test_removing_the_method_detaches_it_and_goes_back_to_bank_transfer(stripe_emulator):
    owner = subscribed_owner()
    method = save_method(stripe_emulator, owner)
    automatic_payment(owner)
    methods.remove_payment_method(partner=owner.partner, actor=Actor(user=owner.user))
    assert stripe_emulator.get(f"/v1/payment_methods/{method.stripe_id}")["customer"] is None
    assert methods.saved_method(owner.partner) is None
    assert services.current_subscription(owner.partner).rail == Subscription.Rail.MANUAL
    actions = set(AuditLogEntry.objects.filter(partner=owner.partner).values_list("action", flat=True))
    assert {"payment_method.removed", "subscription.rail_changed"} <= actions


def test_automatic_payment_needs_a_saved_method(stripe_emulator):
    owner = subscribed_owner()
    with pytest.raises(NoPaymentMethod):
        automatic_payment(owner)


# --- Collection ----------------------------------------------------------------------------------


def test_off_session_card_payment_pays_the_invoice(stripe_emulator, django_capture_on_commit_callbacks):
    owner = subscribed_owner()
    save_method(stripe_emulator, owner)
    invoice = open_invoice(owner.partner)
    with django_capture_on_commit_callbacks(execute=True):
        automatic_payment(owner)  # the open invoice is charged at once
    attempt = PaymentAttempt.objects.get()
    assert (attempt.number, attempt.status, attempt.amount_cents) == (1, Status.SUCCEEDED, invoice.total_cents)
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.PAID
    payment = invoice.payments.get()
    assert (payment.rail, payment.reference, payment.method) == ("stripe", attempt.stripe_payment_intent_id, "card")
    intent = stripe_emulator.get(f"/v1/payment_intents/{attempt.stripe_payment_intent_id}")
    assert intent["metadata"]["invoice"] == invoice.number and intent["metadata"]["partner"] == owner.partner.public_id
    assert intent["metadata"]["attempt"] == attempt.public_id
    assert intent["customer"] == StripeCustomer.objects.get().stripe_id


def test_a_finalized_invoice_is_collected_by_the_rail_once(stripe_emulator):
    owner = subscribed_owner()
    save_method(stripe_emulator, owner)
    Subscription.objects.filter(partner=owner.partner).update(rail="stripe")
    invoice = open_invoice(owner.partner)
    first = services.collect_invoice(invoice_id=invoice.pk)
    again = services.collect_invoice(invoice_id=invoice.pk)  # a redelivered task
    assert first.status == "succeeded" and again is None
    assert PaymentAttempt.objects.count() == 1 and len(stripe_emulator.get("/v1/payment_intents")["data"]) == 1
    assert any("paid through Stripe" in event.text for event in invoice.timeline.filter(kind="collection"))


def test_a_declined_card_fails_the_attempt_tells_the_partner_and_schedules_a_retry(
        stripe_emulator, settings, django_capture_on_commit_callbacks):
    settings.STRIPE_RETRY_DAYS = [3, 5]
    owner = subscribed_owner()
    save_method(stripe_emulator, owner, card=DECLINED_WHEN_CHARGED)
    Subscription.objects.filter(partner=owner.partner).update(rail="stripe")
    invoice = open_invoice(owner.partner)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        outcome = rails.rail_for("stripe").collect(invoice)
    attempt = PaymentAttempt.objects.get()
    assert outcome.status == "failed" and "next try on" in outcome.detail
    assert (attempt.status, attempt.failure_code, attempt.is_hard_decline) == (Status.FAILED, "card_declined", False)
    assert attempt.stripe_payment_intent_id  # found through the charge: the emulator's error does not name it
    assert timezone.now() + dt.timedelta(days=2) < attempt.next_retry_at < timezone.now() + dt.timedelta(days=4)
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.OPEN and invoice.amount_paid_cents == 0
    [email] = mail.outbox
    assert invoice.number in email.subject and owner.user.email in email.to
    assert "Nous réessaierons le" in email.body or "We will try again on" in email.body

    # The dunning retry, when due: attempt 2, declined again, then attempt 3 is the last one.
    later = attempt.next_retry_at + dt.timedelta(minutes=1)
    with django_capture_on_commit_callbacks(execute=True):
        second = collection.retry(attempt_id=attempt.pk, now=later)
    assert (second.number, second.status) == (2, Status.FAILED)
    assert collection.retry(attempt_id=attempt.pk, now=later) is None  # claimed once
    second.refresh_from_db()
    third = collection.retry(attempt_id=second.pk, now=second.next_retry_at + dt.timedelta(minutes=1))
    assert third.number == 3 and third.next_retry_at is None  # retries exhausted
    assert "no automatic retry" in collection.outcome_of(third).detail


def test_a_hard_decline_is_not_retried():
    attempt = PaymentAttempt(number=1, amount_cents=100, is_hard_decline=True)
    assert collection.is_hard_decline("card_declined", "stolen_card")
    assert collection.is_hard_decline("debit_not_authorized", "")
    assert not collection.is_hard_decline("card_declined", "insufficient_funds")
    assert collection._next_retry_at(attempt) is None


def test_sepa_debit_is_pending_then_paid(stripe_emulator):
    owner = subscribed_owner()
    save_method(stripe_emulator, owner, iban=IBAN)
    Subscription.objects.filter(partner=owner.partner).update(rail="stripe")
    invoice = open_invoice(owner.partner)
    rails.rail_for("stripe").collect(invoice)
    attempt = PaymentAttempt.objects.get()
    # The emulator settles at once; the real API answers "processing" for days (webhook tested apart).
    assert attempt.status in (Status.PROCESSING, Status.SUCCEEDED)
    wait_until(lambda: collection.reconcile(attempt_id=attempt.pk).status == Status.SUCCEEDED)
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.PAID and invoice.payments.get().method == "sepa"


def test_a_failing_sepa_debit_stays_pending_then_fails_and_is_retried(stripe_emulator,
                                                                         django_capture_on_commit_callbacks):
    owner = subscribed_owner()
    save_method(stripe_emulator, owner, iban=IBAN_FAILING)
    Subscription.objects.filter(partner=owner.partner).update(rail="stripe")
    invoice = open_invoice(owner.partner)
    outcome = rails.rail_for("stripe").collect(invoice)
    attempt = PaymentAttempt.objects.get()
    assert (outcome.status, attempt.status) == ("pending", Status.PROCESSING)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        wait_until(lambda: collection.reconcile(attempt_id=attempt.pk).status == Status.FAILED)
    attempt.refresh_from_db()
    assert attempt.failure_code == "card_declined" and attempt.next_retry_at is not None
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.OPEN
    assert len(mail.outbox) == 1


def test_strong_customer_authentication_emails_a_link_and_completes_in_the_portal(
        stripe_emulator, django_capture_on_commit_callbacks):
    owner = subscribed_owner()
    save_method(stripe_emulator, owner, card=NEEDS_AUTHENTICATION)
    Subscription.objects.filter(partner=owner.partner).update(rail="stripe")
    invoice = open_invoice(owner.partner)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        outcome = rails.rail_for("stripe").collect(invoice)
    assert outcome.status == "requires_action"
    [email] = mail.outbox
    assert "/billing/payment-method/authenticate/" in email.body
    [request] = collection.authentication_requests(owner.partner)
    stripe_emulator.authenticate(request.client_secret, success=True)
    attempt = collection.confirm_authenticated(partner=owner.partner,
                                               payment_intent_id=request.attempt.stripe_payment_intent_id)
    assert attempt.status == Status.SUCCEEDED
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.PAID


def test_stripe_unreachable_keeps_the_attempt_and_the_sweep_replays_the_same_request(
        stripe_emulator, settings):
    owner = subscribed_owner()
    save_method(stripe_emulator, owner)
    Subscription.objects.filter(partner=owner.partner).update(rail="stripe")
    invoice = open_invoice(owner.partner)
    emulator_base = settings.STRIPE_API_BASE
    settings.STRIPE_API_BASE = "http://127.0.0.1:9"  # nothing listens there
    outcome = rails.rail_for("stripe").collect(invoice)
    attempt = PaymentAttempt.objects.get()
    assert outcome.status == "pending" and attempt.status == Status.CREATED
    assert "APIConnectionError" in attempt.error
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.OPEN

    settings.STRIPE_API_BASE = emulator_base
    PaymentAttempt.objects.filter(pk=attempt.pk).update(updated_at=timezone.now() - dt.timedelta(hours=1))
    assert reconciliation.sweep()["attempts"] == 1  # eager: reconciled at once, same idempotency key
    attempt.refresh_from_db()
    assert attempt.status == Status.SUCCEEDED and attempt.number == 1
    assert PaymentAttempt.objects.count() == 1


def test_an_attempt_without_answer_for_a_day_is_reported_not_replayed(stripe_emulator, settings):
    owner = subscribed_owner()
    save_method(stripe_emulator, owner)
    invoice = open_invoice(owner.partner)
    attempt = PaymentAttempt.objects.create(partner=owner.partner, invoice=invoice, number=1, amount_cents=100,
                                            payment_method=methods.saved_method(owner.partner))
    PaymentAttempt.objects.filter(pk=attempt.pk).update(created_at=timezone.now() - dt.timedelta(hours=30))
    collection.reconcile(attempt_id=attempt.pk)
    attempt.refresh_from_db()
    assert attempt.status == Status.ERROR
    assert StripeIssue.objects.filter(kind=StripeIssue.Kind.NO_OUTCOME, attempt=attempt).exists()
    assert not stripe_emulator.get("/v1/payment_intents")["data"]


def test_a_payment_collected_on_a_cancelled_invoice_is_reported(stripe_emulator):
    owner = subscribed_owner()
    save_method(stripe_emulator, owner, iban=IBAN_FAILING)
    Subscription.objects.filter(partner=owner.partner).update(rail="stripe")
    invoice = open_invoice(owner.partner)
    rails.rail_for("stripe").collect(invoice)
    attempt = PaymentAttempt.objects.get()
    services.cancel_invoice(invoice=invoice, actor=SYSTEM)
    reading = collection.Reading(attempt.stripe_payment_intent_id, "succeeded", attempt.amount_cents)
    collection.apply_reading(attempt_id=attempt.pk, reading=reading)
    assert StripeIssue.objects.filter(kind=StripeIssue.Kind.PAID_NOT_OPEN, invoice=invoice).exists()


def test_what_the_rail_says_on_the_invoice_history_reads_in_the_readers_language(
        stripe_emulator, settings, django_capture_on_commit_callbacks):
    settings.STRIPE_RETRY_DAYS = [3]
    owner = subscribed_owner()
    save_method(stripe_emulator, owner, card=DECLINED_WHEN_CHARGED)
    Subscription.objects.filter(partner=owner.partner).update(rail="stripe")
    invoice = open_invoice(owner.partner)
    with translation.override("fr"), django_capture_on_commit_callbacks(execute=True):  # a French-speaking worker
        services.collect_invoice(invoice_id=invoice.pk)
    attempt = PaymentAttempt.objects.get()
    retry_on = timezone.localdate(attempt.next_retry_at)
    amount = f"{attempt.amount_cents // 100}.{attempt.amount_cents % 100:02d}\xa0€"
    [line] = [event for event in invoice.timeline.filter(kind="collection") if event.params]
    with translation.override("en"):
        assert line.text == (f"Collection: payment of {amount} declined: the bank declined the payment; "
                             f"next try on {formats.date_format(retry_on)}")
    with translation.override("fr"):
        assert line.text.startswith("Encaissement : paiement de " + amount.replace(".", ",") + " refusé")


# --- Refunds -----------------------------------------------------------------------------------


def test_a_credit_note_refunds_the_original_payment(stripe_emulator, django_capture_on_commit_callbacks):
    owner = subscribed_owner()
    save_method(stripe_emulator, owner)
    Subscription.objects.filter(partner=owner.partner).update(rail="stripe")
    invoice = open_invoice(owner.partner)
    rails.rail_for("stripe").collect(invoice)
    attempt = PaymentAttempt.objects.get(status=Status.SUCCEEDED)
    with translation.override("fr"), django_capture_on_commit_callbacks(execute=True):  # a French-speaking staff member
        note = services.issue_credit_note(invoice=invoice, subtotal_cents=2000, reason="goodwill", description="x",
                                          actor=SYSTEM)
    refund = StripeRefund.objects.get()
    assert (refund.credit_note, refund.attempt, refund.amount_cents) == (note, attempt, 2400)
    assert refund.status == StripeRefund.Status.SUCCEEDED and refund.stripe_refund_id.startswith("re_")
    [stored] = stripe_emulator.get(f"/v1/refunds?payment_intent={attempt.stripe_payment_intent_id}")["data"]
    assert (stored["id"], stored["amount"]) == (refund.stripe_refund_id, 2400)
    with translation.override("en"):  # the history's lines read in the reader's language
        assert invoice.timeline.get(kind="refund").text == "Refund of 24.00\xa0€: refund of 24.00\xa0€ requested from Stripe"
        assert invoice.timeline.get(kind="stripe_refund").text == f"Stripe refund of 24.00\xa0€ for {note.number}: succeeded"


def test_a_credit_without_stripe_payment_is_refunded_by_staff():
    owner = subscribed_owner()
    invoice = open_invoice(owner.partner)
    services.record_payment(invoice=invoice, amount_cents=invoice.total_cents, received_on=dt.date(2026, 4, 2),
                            reference="VIR-1", actor=SYSTEM)
    note = services.issue_credit_note(invoice=invoice, subtotal_cents=1000, reason="goodwill", description="x",
                                      actor=SYSTEM)
    outcome = refunds.request(note, 1200)
    assert outcome.status == "pending" and "bank transfer" in outcome.detail
    assert not StripeRefund.objects.exists()


def test_a_refund_stripe_refuses_is_recorded_and_reported(stripe_emulator, django_capture_on_commit_callbacks):
    owner = subscribed_owner()
    save_method(stripe_emulator, owner)
    Subscription.objects.filter(partner=owner.partner).update(rail="stripe")
    invoice = open_invoice(owner.partner)
    rails.rail_for("stripe").collect(invoice)
    attempt = PaymentAttempt.objects.get()
    PaymentAttempt.objects.filter(pk=attempt.pk).update(stripe_payment_intent_id="pi_doesnotexist")
    with django_capture_on_commit_callbacks(execute=True):
        services.issue_credit_note(invoice=invoice, subtotal_cents=1000, reason="goodwill", description="x",
                                   actor=SYSTEM)
    refund = StripeRefund.objects.get()
    assert refund.status == StripeRefund.Status.ERROR and refund.failure_reason
    assert StripeIssue.objects.filter(kind=StripeIssue.Kind.REFUND_FAILED).exists()


# --- Errors never reach the partner as a crash ---------------------------------------------------


def test_setup_with_stripe_unreachable_says_what_to_do(stripe_emulator, settings):
    owner = subscribed_owner()
    settings.STRIPE_API_BASE = "http://127.0.0.1:9"
    with pytest.raises(StripeUnavailable) as refused:
        methods.start_setup(partner=owner.partner, kind="card")
    assert "try again" in refused.value.message


def test_a_request_stripe_refuses_ends_the_attempt_schedules_a_retry_and_tells_staff(
        stripe_emulator, settings, django_capture_on_commit_callbacks):
    settings.STRIPE_ALERT_EMAIL = "billing-team@bigstock.example"
    owner = subscribed_owner()
    save_method(stripe_emulator, owner)
    Subscription.objects.filter(partner=owner.partner).update(rail="stripe")
    settings.STRIPE_SECRET_KEY = "wrong"  # the emulator answers 401, as Stripe does to a revoked key
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        outcome = rails.rail_for("stripe").collect(open_invoice(owner.partner))
    attempt = PaymentAttempt.objects.get()
    assert outcome.status == "failed" and attempt.status == Status.ERROR and attempt.next_retry_at
    assert "AuthenticationError" in attempt.error
    issue = StripeIssue.objects.get(kind=StripeIssue.Kind.STRIPE_ERROR)
    assert issue.attempt == attempt
    assert [m.to for m in mail.outbox] == [["billing-team@bigstock.example"]]


def test_the_sweep_collects_an_invoice_whose_finalize_task_was_lost(stripe_emulator):
    owner = subscribed_owner()
    save_method(stripe_emulator, owner)
    Subscription.objects.filter(partner=owner.partner).update(rail="stripe")
    invoice = open_invoice(owner.partner)
    Invoice.objects.filter(pk=invoice.pk).update(finalized_at=timezone.now() - dt.timedelta(hours=2))
    assert reconciliation.sweep()["invoices"] == 1
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.PAID
    assert reconciliation.sweep()["invoices"] == 0
