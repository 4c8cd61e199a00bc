"""An invoice's history as partners read it: each line is kept as its kind with its values and
written out when shown, in the reader's language, as an order's timeline is (``orders.timeline``).
Lines written before this (``InvoiceEvent.message``) are shown as they were written."""

import datetime as dt

from django.utils import formats
from django.utils.translation import gettext_lazy as _

from bigstock.money import format_cents

from .models import InvoiceEvent, StripeRefund

TEXTS = {
    "created": _("Draft created"),
    "finalized": _("Finalized as %(number)s"),
    "emailed": _("Emailed to %(recipients)s"),
    "collection": _("Collection: %(detail)s"),
    "payment": _("Payment of %(amount)s received (%(reference)s)"),
    "paid": _("Paid in full"),
    "overpaid": _("Overpaid by %(amount)s: to be refunded or credited"),
    "credited": _("Credit note %(number)s: %(amount)s"),
    "refund": _("Refund of %(amount)s: %(detail)s"),
    "stripe_refund": _("Stripe refund of %(amount)s for %(note)s: %(status)s"),
    "overdue": _("Overdue: the subscription is past due, service continues until %(date)s"),
    "reminder": _("Reminder %(step)d sent (%(days)d days late)"),
    "suspended": _("Grace period over: the subscription is suspended until the balance is paid"),
    "disputed": _("Payment disputed with the bank (%(id)s, reason %(reason)s)"),
}


def record(invoice, kind: str, **params) -> InvoiceEvent:
    """A line of ``invoice``'s history (a kind of ``TEXTS``, its values as JSON)."""
    if kind not in TEXTS:
        raise ValueError(f"unknown invoice history kind {kind!r}")
    return InvoiceEvent.objects.create(invoice=invoice, kind=kind, params={
        name: value if isinstance(value, int | tuple | list) else str(value) for name, value in params.items()})


def text(event: InvoiceEvent) -> str:
    """The line in the active language: amounts given as ``<name>_cents`` are shown as ``<name>``,
    a ``date`` (ISO) as a date, a rail's ``detail`` (``rails.Outcome.parts``) and a Stripe refund's
    ``status`` are written out."""
    if event.message:
        return event.message
    template = str(TEXTS[event.kind])
    if not event.params:
        return template
    return template % dict(_shown(name, value) for name, value in event.params.items())


def _shown(name: str, value):
    from . import rails  # rails loads the Stripe rail, which records history

    if name == "detail" and isinstance(value, list):  # a text: written out by a version before the parts
        return name, rails.describe(value)
    if name == "status" and value in StripeRefund.Status.values:
        return name, StripeRefund.Status(value).label.lower()
    return written_out(name, value)


def written_out(name: str, value) -> tuple[str, object]:
    """A kept value as the reader sees it, for the history's lines and a rail's parts alike:
    ``<name>_cents`` as an amount named ``<name>``, a ``date`` (ISO) as a date in the active
    language; anything else as it is."""
    if name.endswith("_cents"):
        return name.removesuffix("_cents"), format_cents(value)
    if name == "date":
        try:
            return name, formats.date_format(dt.date.fromisoformat(value))
        except ValueError:  # written out already (dd/mm/yyyy) by a version before this
            return name, value
    return name, value
