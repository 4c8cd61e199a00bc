"""Refunds for credit notes, on the Stripe payments of the credited invoice.

``request`` runs inside ``services.issue_credit_note``'s transaction: it only writes
``StripeRefund`` rows; each is sent to Stripe after commit (its public id is the idempotency
key), so a credit note rolled back never refunds. Outcomes come from Stripe's answer, the
``charge.refunded`` / ``refund.*`` webhooks and the sweep; a refund Stripe shows that no credit
note asked for is reported to staff.
"""

import logging

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from bigstock.money import format_cents

from .. import history
from ..models import CreditNote, PaymentAttempt, StripeIssue, StripeRefund
from ..rails import Outcome
from . import gateway, notify

logger = logging.getLogger(__name__)

_LIVE = (StripeRefund.Status.CREATED, StripeRefund.Status.PENDING, StripeRefund.Status.SUCCEEDED)
_STATUSES = {"succeeded": StripeRefund.Status.SUCCEEDED, "pending": StripeRefund.Status.PENDING,
             "requires_action": StripeRefund.Status.PENDING, "failed": StripeRefund.Status.FAILED,
             "canceled": StripeRefund.Status.CANCELED}


def request(credit_note: CreditNote, amount_cents: int) -> Outcome:
    """The rail's ``refund``: split ``amount_cents`` over the invoice's Stripe payments, newest first."""
    paid = (PaymentAttempt.objects.filter(invoice=credit_note.invoice_id, status=PaymentAttempt.Status.SUCCEEDED)
            .exclude(stripe_payment_intent_id="").order_by("-settled_at", "-pk"))
    remaining, refunds = amount_cents, []
    for attempt in paid:
        refunded = attempt.refunds.filter(status__in=_LIVE).aggregate(total=Sum("amount_cents"))["total"] or 0
        take = min(remaining, attempt.amount_cents - refunded)
        if take > 0:
            refunds.append(StripeRefund.objects.create(partner=credit_note.partner, credit_note=credit_note,
                                                       attempt=attempt, amount_cents=take))
            remaining -= take
        if remaining == 0:
            break
    if not refunds:
        return Outcome.of("pending", "no_stripe_payment")
    from . import tasks

    for refund in refunds:
        refund_id = refund.pk
        transaction.on_commit(lambda refund_id=refund_id: tasks.send_stripe_refund.delay(refund_id))
    outcome = Outcome.of("pending", "refund_requested", amount_cents=amount_cents - remaining)
    return outcome.adding("refund_rest_by_transfer", amount_cents=remaining) if remaining else outcome


def send(*, refund_id: int) -> StripeRefund:
    """Create the Stripe Refund (or replay the same request) and record what Stripe says."""
    refund = StripeRefund.objects.select_related("attempt", "credit_note__invoice", "partner").get(pk=refund_id)
    if refund.status != StripeRefund.Status.CREATED:
        return refund
    note = refund.credit_note
    try:
        stripe_refund = gateway.create_refund(
            payment_intent_id=refund.attempt.stripe_payment_intent_id, amount_cents=refund.amount_cents,
            metadata={"refund": refund.public_id, "credit_note": note.number, "invoice": note.invoice.number,
                      "partner": refund.partner.public_id},
            idempotency_key=refund.public_id)
    except gateway.StripeError as error:
        logger.warning("stripe refund error: %s", gateway.describe(error), extra={"refund": refund.public_id})
        if gateway.is_uncertain(error):  # the sweep sends it again, same key
            StripeRefund.objects.filter(pk=refund.pk).update(failure_reason=gateway.describe(error)[:300],
                                                             updated_at=timezone.now())
            return refund
        return _settle(refund.pk, status=StripeRefund.Status.ERROR, stripe_refund_id="",
                       reason=gateway.describe(error))
    return apply(refund_id=refund.pk, stripe_refund=stripe_refund)


def apply(*, refund_id: int, stripe_refund) -> StripeRefund:
    status = _STATUSES.get(stripe_refund.status, StripeRefund.Status.PENDING)
    return _settle(refund_id, status=status, stripe_refund_id=stripe_refund.id,
                   reason=gateway.field(stripe_refund, "failure_reason", ""))


@transaction.atomic
def _settle(refund_id: int, *, status: str, stripe_refund_id: str, reason: str) -> StripeRefund:
    refund = StripeRefund.objects.select_for_update(of=("self",)).select_related("credit_note__invoice", "partner").get(pk=refund_id)
    if refund.status == status and (refund.stripe_refund_id or not stripe_refund_id):
        return refund
    refund.status = status
    refund.stripe_refund_id = stripe_refund_id or refund.stripe_refund_id
    refund.failure_reason = reason[:300]
    refund.save()
    invoice = refund.credit_note.invoice
    history.record(invoice, "stripe_refund", amount_cents=refund.amount_cents, note=refund.credit_note.number,
                   status=refund.status)
    if status in (StripeRefund.Status.FAILED, StripeRefund.Status.ERROR, StripeRefund.Status.CANCELED):
        notify.report(kind=StripeIssue.Kind.REFUND_FAILED, stripe_object_id=refund.stripe_refund_id or refund.public_id,
                      message=_("The refund of %(amount)s for credit note %(note)s did not go through (%(reason)s): "
                                "refund by bank transfer.") % {
                          "amount": format_cents(refund.amount_cents), "note": refund.credit_note.number,
                          "reason": reason or refund.get_status_display()},
                      partner=refund.partner, invoice=invoice, attempt=refund.attempt, tell_staff=True)
    return refund


def sync_charge(*, charge_id: str, attempt: PaymentAttempt, event=None) -> None:
    """Every refund Stripe holds on the charge: ours get their outcome, others are reported."""
    for stripe_refund in gateway.list_refunds(charge_id=charge_id):
        ours = StripeRefund.objects.filter(stripe_refund_id=stripe_refund.id).first() or StripeRefund.objects.filter(
            public_id=gateway.field(gateway.field(stripe_refund, "metadata"), "refund", ""), attempt=attempt).first()
        if ours is not None:
            apply(refund_id=ours.pk, stripe_refund=stripe_refund)
        else:
            notify.report(kind=StripeIssue.Kind.OUTSIDE_REFUND, stripe_object_id=stripe_refund.id,
                          message=_("Stripe refunded %(amount)s on %(invoice)s without a credit note: issue one or "
                                    "check the Stripe dashboard.") % {
                              "amount": format_cents(stripe_refund.amount), "invoice": attempt.invoice},
                          partner=attempt.partner, invoice=attempt.invoice, attempt=attempt, event=event)
