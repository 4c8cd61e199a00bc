"""Stripe rail tasks (queue ``billing``): load ids, call one function, nothing else."""

from celery import shared_task

from . import collection, gateway, methods, reconciliation, refunds, webhooks


@shared_task
def process_stripe_event(event_id: int) -> str:
    return webhooks.process(event_id=event_id).status


@shared_task
def sweep_stripe_payments() -> dict:
    """Beat: reconciliation, due retries, lost events and refunds."""
    return reconciliation.sweep()


@shared_task
def reconcile_payment_attempt(attempt_id: int) -> str:
    return collection.reconcile(attempt_id=attempt_id).status


@shared_task
def retry_payment_attempt(attempt_id: int) -> str | None:
    attempt = collection.retry(attempt_id=attempt_id)
    return attempt.status if attempt else None


@shared_task
def collect_stripe_invoice(invoice_id: int) -> str:
    from ..services import collect_invoice

    outcome = collect_invoice(invoice_id=invoice_id)
    return outcome.status if outcome else "nothing to collect"


@shared_task
def collect_open_invoices(partner_id: int) -> int:
    return len(collection.collect_open_invoices(partner_id=partner_id))


@shared_task
def send_stripe_refund(refund_id: int) -> str:
    return refunds.send(refund_id=refund_id).status


@shared_task
def sync_stripe_customer(customer_id: int) -> None:
    from ..models import StripeCustomer

    methods.sync_customer(customer=StripeCustomer.objects.select_related("partner").get(pk=customer_id))


@shared_task
def detach_stripe_payment_method(payment_method_id: str) -> None:
    """The method a new one replaced: detached in Stripe so it can no longer be charged."""
    gateway.detach_payment_method(payment_method_id)
