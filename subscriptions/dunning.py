"""Dunning: what happens, day by day, to an invoice left unpaid after its due date.

Due date passed → subscription ``past_due`` (standing ``grace``), ``invoice.overdue`` event;
reminders on ``BIGSTOCK_REMINDER_DAYS`` after the due date; past ``BIGSTOCK_GRACE_DAYS`` →
``suspended``. Paying the balance restores it at once (``services._settle``). Every step is
on the invoice's timeline; each step happens once however often the run repeats.
"""

import datetime as dt
import logging

from django.conf import settings
from django.db import transaction

from bigstock import events

from . import emails, history, periods, standing
from .models import Invoice, Subscription

logger = logging.getLogger(__name__)


def overdue_invoice_ids(*, today: dt.date) -> list[int]:
    return list(Invoice.objects.filter(status=Invoice.Status.OPEN, due_date__lt=today).values_list("pk", flat=True))


@transaction.atomic
def process_overdue_invoice(*, invoice_id: int, today: dt.date | None = None) -> None:
    today = today or periods.today()
    invoice = Invoice.objects.select_for_update(of=("self",)).select_related("partner", "subscription").get(pk=invoice_id)
    if invoice.status != Invoice.Status.OPEN or invoice.due_date >= today:
        return
    subscription = Subscription.objects.select_for_update().get(pk=invoice.subscription_id)
    days_late = (today - invoice.due_date).days

    if subscription.status in (Subscription.Status.ACTIVE, Subscription.Status.INCOMPLETE):
        subscription.status = Subscription.Status.PAST_DUE
        subscription.past_due_since = invoice.due_date + dt.timedelta(days=1)
        subscription.grace_until = invoice.due_date + dt.timedelta(days=settings.BIGSTOCK_GRACE_DAYS)
        subscription.save(update_fields=["status", "past_due_since", "grace_until", "updated_at"])
        history.record(invoice, "overdue", date=subscription.grace_until.isoformat())
        events.publish(partner=invoice.partner, type="invoice.overdue", data={
            "id": invoice.public_id, "number": invoice.number, "balance_cents": invoice.balance_cents,
            "due_date": invoice.due_date.isoformat()})

    # Send only the latest reminder due (a run that missed days does not send a burst).
    due_steps = [step for step, day in enumerate(settings.BIGSTOCK_REMINDER_DAYS, start=1) if days_late >= day]
    if due_steps and due_steps[-1] > invoice.last_reminder_step:
        invoice.last_reminder_step = due_steps[-1]
        invoice.save(update_fields=["last_reminder_step"])
        history.record(invoice, "reminder", step=invoice.last_reminder_step, days=days_late)
        transaction.on_commit(lambda: emails.send_reminder(invoice_id=invoice.pk, days_late=days_late))

    if subscription.status == Subscription.Status.PAST_DUE and subscription.grace_until < today:
        subscription.status = Subscription.Status.SUSPENDED
        subscription.save(update_fields=["status", "updated_at"])
        history.record(invoice, "suspended")
        events.publish(partner=invoice.partner, type="subscription.updated", data={
            "id": subscription.public_id, "status": subscription.status})
    standing.refresh(partner=invoice.partner, today=today)
