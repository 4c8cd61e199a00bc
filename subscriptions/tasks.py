"""Billing tasks (queue ``billing``): thin wrappers that load ids and call services."""

import datetime as dt
import logging

from celery import shared_task

from . import documents, dunning, emails, periods, services, standing
from .models import CreditNote, Invoice

logger = logging.getLogger(__name__)

# Subscriptions per invoicing task: a task costs about as much as an invoice (message, ack,
# tracing), so 10,000 subscriptions go out as 200 tasks; a batch still takes only seconds.
INVOICING_BATCH = 50


@shared_task
def start_invoicing_run() -> int:
    """Beat, daily just after midnight Paris time: the subscriptions whose period ended, in batches."""
    today = periods.today()
    due = [[subscription_id, period_start.isoformat()]
           for subscription_id, period_start in services.due_subscription_ids(today=today)]
    for first in range(0, len(due), INVOICING_BATCH):
        invoice_subscriptions.delay(due[first : first + INVOICING_BATCH])
    return len(due)


@shared_task(ignore_result=True)
def invoice_subscriptions(due: list[list]) -> None:
    """Invoice each ``[subscription_id, period_start]``, each in its own transaction: a failure
    bills the others, then fails the task. A rerun (redelivery, the next daily run, which still
    finds the failed ones due) bills each period once."""
    failure = None
    for subscription_id, period_start in due:
        try:
            services.invoice_next_period(subscription_id=subscription_id,
                                         period_start=dt.date.fromisoformat(period_start))
        except Exception as exc:  # logged here, raised once the rest of the batch is billed
            logger.exception("invoicing failed", extra={"subscription": subscription_id, "period_start": period_start})
            failure = failure or exc
    if failure is not None:
        raise failure


@shared_task
def invoice_subscription(subscription_id: int, period_start: str) -> str | None:
    """One subscription: for a manual retry, and for messages queued before runs went out in batches."""
    invoice = services.invoice_next_period(subscription_id=subscription_id,
                                           period_start=dt.date.fromisoformat(period_start))
    return invoice.number if invoice else None


@shared_task(ignore_result=True)  # one per invoice: storing (and, on Redis, subscribing to) None is pure cost
def process_finalized_invoice(invoice_id: int) -> None:
    """After finalizing: ask the rail to collect, then render the PDF and email it (each once)."""
    services.collect_invoice(invoice_id=invoice_id)
    send_invoice(invoice_id)


@shared_task
def send_invoice(invoice_id: int, resend: bool = False) -> None:
    """Render the PDF if needed and email the invoice; a retry does not email twice unless ``resend``."""
    invoice = Invoice.objects.get(pk=invoice_id)
    documents.ensure_invoice_pdf(invoice=invoice)
    emails.send_invoice(invoice_id=invoice_id, resend=resend)


@shared_task
def render_credit_note(credit_note_id: int) -> None:
    documents.ensure_credit_note_pdf(credit_note=CreditNote.objects.get(pk=credit_note_id))


@shared_task
def run_dunning() -> int:
    ids = dunning.overdue_invoice_ids(today=periods.today())
    for invoice_id in ids:
        dunning.process_overdue_invoice(invoice_id=invoice_id)
    return len(ids)


@shared_task
def refresh_standings() -> int:
    """Nightly: the standing of every partner, so date-driven changes (the transition) apply."""
    from partners.models import Partner

    count = 0
    for partner in Partner.objects.iterator():
        standing.refresh(partner=partner)
        count += 1
    return count


@shared_task
def run_transition_campaign() -> dict:
    from . import campaign

    return campaign.run()
