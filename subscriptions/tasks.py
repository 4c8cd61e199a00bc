"""Billing tasks (queue ``billing``): thin wrappers that load ids and call services."""

import datetime as dt

from celery import shared_task

from . import documents, dunning, emails, periods, services, standing
from .models import CreditNote, Invoice


@shared_task
def start_invoicing_run() -> int:
    """Beat, daily just after midnight Paris time: one task per subscription whose period ended."""
    today = periods.today()
    due = services.due_subscription_ids(today=today)
    for subscription_id, period_start in due:
        invoice_subscription.delay(subscription_id, period_start.isoformat())
    return len(due)


@shared_task
def invoice_subscription(subscription_id: int, period_start: str) -> str | None:
    invoice = services.invoice_next_period(subscription_id=subscription_id,
                                           period_start=dt.date.fromisoformat(period_start))
    return invoice.number if invoice else None


@shared_task
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
