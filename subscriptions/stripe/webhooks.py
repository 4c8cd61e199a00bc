"""Stripe webhooks in: verified, stored once by Stripe's event id, processed on the billing queue.

``receive`` (the view's only call) verifies the signature with the stripe library (5 minutes of
tolerance), stores the event and queues ``process`` after commit; a redelivered event is
already stored and does nothing more. ``process`` never acts on the payload: it re-reads the
object from Stripe, so events arriving late or out of order change nothing wrong. Events about
a customer or payment BigStock does not know are stored and reported to staff; types without a
handler are stored and acknowledged.
"""

import json
import logging

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from bigstock.money import format_cents
from partners.audit import SYSTEM

from .. import history
from ..models import (
    PaymentAttempt,
    StripeCustomer,
    StripeEvent,
    StripeIssue,
    StripePaymentMethod,
)
from . import collection, gateway, methods, notify, refunds
from .errors import PaymentMethodRefused, StripeUnavailable

logger = logging.getLogger(__name__)

Status = StripeEvent.Status


def receive(*, payload: bytes, signature: str | None) -> tuple[StripeEvent, bool]:
    """Verify and store; ``(event, created)``. Raises ``gateway.SignatureVerificationError`` or ``ValueError``."""
    gateway.construct_event(payload, signature)
    data = json.loads(payload)
    found = StripeEvent.objects.filter(stripe_id=data["id"]).first()
    if found is not None:
        return found, False
    obj = (data.get("data") or {}).get("object") or {}
    try:
        with transaction.atomic():
            event = StripeEvent.objects.create(
                stripe_id=data["id"], type=data.get("type", ""), api_version=data.get("api_version") or "",
                livemode=bool(data.get("livemode")), object_id=obj.get("id") or "", payload=data)
    except IntegrityError:  # the same event delivered twice at once
        return StripeEvent.objects.get(stripe_id=data["id"]), False
    from . import tasks

    event_id = event.pk
    transaction.on_commit(lambda: tasks.process_stripe_event.delay(event_id))
    return event, True


def process(*, event_id: int, replay: bool = False) -> StripeEvent:
    """Act on a stored event (once; ``replay`` from the admin acts again, safely: handlers re-read)."""
    event = StripeEvent.objects.get(pk=event_id)
    if event.status in (Status.PROCESSED, Status.IGNORED, Status.UNMATCHED) and not replay:
        return event
    handler = HANDLERS.get(event.type)
    event.process_count += 1
    if handler is None:
        status, partner = Status.IGNORED, None
    else:
        try:
            status, partner = handler(event)
        except gateway.StripeError as error:  # Stripe unreachable while re-reading: the sweep tries again
            logger.warning("stripe event %s failed: %s", event.stripe_id, gateway.describe(error))
            StripeEvent.objects.filter(pk=event.pk).update(status=Status.FAILED, error=gateway.describe(error),
                                                           process_count=event.process_count)
            event.refresh_from_db()
            return event
    StripeEvent.objects.filter(pk=event.pk).update(status=status, error="", process_count=event.process_count,
                                                   processed_at=timezone.now(),
                                                   partner=partner or event.partner)
    event.refresh_from_db()
    return event


def _object(event: StripeEvent) -> dict:
    return (event.payload.get("data") or {}).get("object") or {}


def _unknown(event: StripeEvent, *, customer_id: str, object_id: str) -> tuple[str, None]:
    """Not ours: stored, reported, acknowledged."""
    known_customer = customer_id and StripeCustomer.objects.filter(stripe_id=customer_id).exists()
    if customer_id and not known_customer:
        notify.report(kind=StripeIssue.Kind.UNKNOWN_CUSTOMER, stripe_object_id=customer_id, event=event,
                      message=_("Stripe event %(type)s (%(id)s) is about customer %(customer)s, unknown to BigStock.")
                      % {"type": event.type, "id": event.stripe_id, "customer": customer_id})
    else:
        notify.report(kind=StripeIssue.Kind.UNKNOWN_PAYMENT, stripe_object_id=object_id, event=event,
                      message=_("Stripe event %(type)s (%(id)s) is about %(object)s, which matches no payment "
                                "attempt.") % {"type": event.type, "id": event.stripe_id, "object": object_id})
    return Status.UNMATCHED, None


def _attempt_for_payment_intent(payment_intent_id: str, metadata: dict) -> PaymentAttempt | None:
    """By the PaymentIntent id, or by our attempt id in its metadata (Stripe's answer may have been
    lost before we stored the id: the webhook can be the first to tell)."""
    attempt = PaymentAttempt.objects.filter(stripe_payment_intent_id=payment_intent_id).first()
    if attempt is None and gateway.field(metadata, "attempt"):
        attempt = PaymentAttempt.objects.filter(public_id=metadata["attempt"], stripe_payment_intent_id="").first()
    return attempt


# --- Handlers: (event) -> (status, partner) ------------------------------------------------------


def _on_payment_intent(event: StripeEvent):
    payload = _object(event)
    payment_intent = gateway.retrieve_payment_intent(event.object_id)
    metadata = gateway.field(payment_intent, "metadata") or {}
    attempt = _attempt_for_payment_intent(payment_intent.id, metadata)
    if attempt is None:
        return _unknown(event, customer_id=gateway.object_id(gateway.field(payment_intent, "customer") or payload.get("customer")),
                        object_id=payment_intent.id)
    collection.apply_reading(attempt_id=attempt.pk, reading=collection.Reading.of(payment_intent))
    return Status.PROCESSED, attempt.partner


def _attempt_for_charge(charge_id: str):
    charge = gateway.retrieve_charge(charge_id)
    payment_intent_id = gateway.object_id(gateway.field(charge, "payment_intent"))
    attempt = PaymentAttempt.objects.filter(stripe_payment_intent_id=payment_intent_id).first() \
        if payment_intent_id else None
    return charge, attempt


def _on_charge_refunded(event: StripeEvent):
    charge, attempt = _attempt_for_charge(event.object_id)
    if attempt is None:
        return _unknown(event, customer_id=gateway.object_id(gateway.field(charge, "customer")), object_id=charge.id)
    refunds.sync_charge(charge_id=charge.id, attempt=attempt, event=event)
    return Status.PROCESSED, attempt.partner


def _on_refund(event: StripeEvent):
    charge_id = gateway.object_id(_object(event).get("charge"))
    charge, attempt = _attempt_for_charge(charge_id)
    if attempt is None:
        return _unknown(event, customer_id=gateway.object_id(gateway.field(charge, "customer")), object_id=event.object_id)
    refunds.sync_charge(charge_id=charge.id, attempt=attempt, event=event)
    return Status.PROCESSED, attempt.partner


def _on_dispute(event: StripeEvent):
    """A chargeback: flag the invoice on its timeline and tell staff (the dispute is answered in Stripe)."""
    dispute = _object(event)
    charge, attempt = _attempt_for_charge(gateway.object_id(dispute.get("charge")))
    if attempt is None:
        return _unknown(event, customer_id=gateway.object_id(gateway.field(charge, "customer")), object_id=event.object_id)
    invoice = attempt.invoice
    reason = dispute.get("reason") or "-"
    amount = dispute.get("amount") or attempt.amount_cents
    with transaction.atomic():
        issue = notify.report(
            kind=StripeIssue.Kind.DISPUTE, stripe_object_id=event.object_id, event=event, partner=attempt.partner,
            invoice=invoice, attempt=attempt, tell_staff=True,
            message=_("%(partner)s disputes %(amount)s on invoice %(invoice)s (reason: %(reason)s). Answer the "
                      "dispute in the Stripe dashboard before its deadline.") % {
                "partner": attempt.partner, "amount": format_cents(amount), "invoice": invoice, "reason": reason})
        if not invoice.timeline.filter(kind="disputed", params__id=event.object_id).exists():
            history.record(invoice, "disputed", id=event.object_id, reason=reason)
    logger.warning("stripe dispute %s on %s", event.object_id, invoice, extra={"issue": issue.pk})
    return Status.PROCESSED, attempt.partner


def _on_payment_method_detached(event: StripeEvent):
    """Detached outside the portal (or by us when replaced): if it was the saved one, forget it."""
    stripe_method = gateway.retrieve_payment_method(event.object_id)
    saved = StripePaymentMethod.objects.filter(stripe_id=event.object_id, removed_at=None).first()
    if saved is None:
        return Status.PROCESSED, None
    if gateway.object_id(gateway.field(stripe_method, "customer")) == saved.customer.stripe_id:
        return Status.PROCESSED, saved.partner  # attached again since: nothing to do
    if methods.forget_payment_method(method=saved, actor=SYSTEM, action="payment_method.detached_in_stripe"):
        partner_id, label = saved.partner_id, saved.label
        transaction.on_commit(lambda: notify.method_removed(partner_id=partner_id, label=label))
    return Status.PROCESSED, saved.partner


def _on_customer_deleted(event: StripeEvent):
    customer = StripeCustomer.objects.filter(stripe_id=event.object_id).first()
    if customer is None:
        return _unknown(event, customer_id=event.object_id, object_id=event.object_id)
    try:
        is_deleted = bool(gateway.field(gateway.retrieve_customer(event.object_id), "deleted"))
    except gateway.StripeError as error:
        if not gateway.is_missing(error):
            raise
        is_deleted = True
    if not is_deleted or customer.deleted_at is not None:
        return Status.PROCESSED, customer.partner
    with transaction.atomic():
        StripeCustomer.objects.filter(pk=customer.pk).update(deleted_at=timezone.now())
        saved = methods.saved_method(customer.partner)
        if saved is not None and methods.forget_payment_method(method=saved, actor=SYSTEM,
                                                               action="payment_method.detached_in_stripe"):
            partner_id, label = saved.partner_id, saved.label
            transaction.on_commit(lambda: notify.method_removed(partner_id=partner_id, label=label))
        notify.report(kind=StripeIssue.Kind.CUSTOMER_DELETED, stripe_object_id=customer.stripe_id, event=event,
                      partner=customer.partner,
                      message=_("The Stripe customer of %(partner)s was deleted in Stripe: its invoices are now paid "
                                "by bank transfer.") % {"partner": customer.partner})
    return Status.PROCESSED, customer.partner


def _on_setup_intent_succeeded(event: StripeEvent):
    """The partner saved a method but never came back to the portal: save it all the same."""
    customer = StripeCustomer.objects.filter(
        stripe_id=gateway.object_id(_object(event).get("customer")), deleted_at=None).select_related("partner").first()
    if customer is None:
        return _unknown(event, customer_id=gateway.object_id(_object(event).get("customer")), object_id=event.object_id)
    try:
        methods.save_payment_method(partner=customer.partner, setup_intent_id=event.object_id, actor=SYSTEM)
    except PaymentMethodRefused:
        pass  # not succeeded after all, or not this customer's: nothing to save
    except StripeUnavailable as error:
        raise error.__cause__ from error  # Stripe unreachable: the sweep processes the event again
    return Status.PROCESSED, customer.partner


HANDLERS = {
    "payment_intent.succeeded": _on_payment_intent,
    "payment_intent.processing": _on_payment_intent,
    "payment_intent.payment_failed": _on_payment_intent,
    "payment_intent.canceled": _on_payment_intent,
    "payment_intent.requires_action": _on_payment_intent,
    "charge.refunded": _on_charge_refunded,
    "refund.updated": _on_refund,
    "refund.failed": _on_refund,
    "charge.refund.updated": _on_refund,
    "charge.dispute.created": _on_dispute,
    "payment_method.detached": _on_payment_method_detached,
    "customer.deleted": _on_customer_deleted,
    "setup_intent.succeeded": _on_setup_intent_succeeded,
}
