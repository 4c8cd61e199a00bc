"""The periodic sweep of the Stripe rail (beat, every few minutes, billing queue).

The database is the record of pending work (DESIGN.md §7): whatever a lost broker message,
a timeout or a webhook Stripe never sent left unfinished is found here and queued again:

* attempts still without an outcome after ``STRIPE_RECONCILE_AFTER_MINUTES`` are read from
  Stripe (or their request replayed with the same idempotency key);
* declined attempts whose dunning retry has come are tried again;
* refunds without Stripe's answer are sent again (same key);
* webhook events stored but not processed (or failed) are processed again;
* open invoices on the Stripe rail that nothing ever tried to collect are collected.

Mismatches found on the way are listed for staff (admin: Stripe mismatches and alerts).
"""

import datetime as dt

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from ..models import Invoice, PaymentAttempt, StripeEvent, StripePaymentMethod, StripeRefund, Subscription
from . import is_enabled

MAX_EVENT_TRIES = 5
EVENT_GRACE = dt.timedelta(minutes=5)


def sweep(*, now: dt.datetime | None = None) -> dict[str, int]:
    """Queue every piece of pending Stripe work; returns how many of each were queued."""
    if not is_enabled():
        return {}
    from . import tasks

    now = now or timezone.now()
    stale = now - dt.timedelta(minutes=settings.STRIPE_RECONCILE_AFTER_MINUTES)
    queued = {
        "attempts": list(PaymentAttempt.objects.filter(status__in=PaymentAttempt.OPEN_STATUSES, updated_at__lt=stale)
                         .values_list("pk", flat=True)),
        "retries": list(PaymentAttempt.objects.filter(next_retry_at__lte=now).values_list("pk", flat=True)),
        "refunds": list(StripeRefund.objects.filter(status=StripeRefund.Status.CREATED, updated_at__lt=stale)
                        .values_list("pk", flat=True)),
        "events": list(StripeEvent.objects.filter(
            Q(status=StripeEvent.Status.RECEIVED, received_at__lt=now - EVENT_GRACE) | Q(status=StripeEvent.Status.FAILED),
            process_count__lt=MAX_EVENT_TRIES).values_list("pk", flat=True)),
        # Never tried (the finalize task was lost), for partners with a saved method.
        "invoices": list(Invoice.objects.filter(
            status=Invoice.Status.OPEN, subscription__rail=Subscription.Rail.STRIPE, finalized_at__lt=stale,
            payment_attempts=None, partner__in=StripePaymentMethod.objects.filter(removed_at=None).values("partner"),
        ).values_list("pk", flat=True)),
    }
    for attempt_id in queued["attempts"]:
        tasks.reconcile_payment_attempt.delay(attempt_id)
    for attempt_id in queued["retries"]:
        tasks.retry_payment_attempt.delay(attempt_id)
    for refund_id in queued["refunds"]:
        tasks.send_stripe_refund.delay(refund_id)
    for event_id in queued["events"]:
        tasks.process_stripe_event.delay(event_id)
    for invoice_id in queued["invoices"]:
        tasks.collect_stripe_invoice.delay(invoice_id)
    return {name: len(ids) for name, ids in queued.items()}
