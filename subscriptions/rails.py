"""Payment rails: how money for an invoice is collected and given back.

A rail only moves money; BigStock's invoices stay the source of truth. Outcomes come back
synchronously (``collect`` returns one) or later through ``services.record_payment`` /
webhooks. The Stripe rail plugs in here with the same interface.
"""

from dataclasses import dataclass
from typing import Protocol

from django.utils.translation import gettext_lazy as _

from . import history

# What a rail says about money it moves, by code: kept with its values on the invoice's history and
# written out when read, in the reader's language (``describe``).
DETAILS = {
    "awaiting_transfer": _("awaiting bank transfer"),
    "refund_by_transfer": _("refund by bank transfer, made by staff"),
    "stripe_off": _("card and SEPA payments are not configured: awaiting bank transfer"),
    "no_payment_method": _("no card or SEPA mandate saved: awaiting bank transfer"),
    "nothing_to_collect": _("nothing left to collect"),
    "paid_stripe": _("%(amount)s paid through Stripe (%(id)s)"),
    "debit_in_progress": _("direct debit of %(amount)s in progress"),
    "requires_action": _("the bank asks the cardholder to confirm the payment of %(amount)s: "
                         "the partner was emailed a link"),
    "stripe_unanswered": _("Stripe has not answered yet: checked again automatically"),
    "payment_cancelled": _("payment of %(amount)s cancelled"),
    "stripe_refused": _("Stripe refused the request"),
    "declined": _("payment of %(amount)s declined: %(reason)s"),
    "next_try": _("next try on %(date)s"),
    "no_retry": _("no automatic retry"),
    "no_stripe_payment": _("no Stripe payment on this invoice: refund by bank transfer, made by staff"),
    "refund_requested": _("refund of %(amount)s requested from Stripe"),
    "refund_rest_by_transfer": _("%(amount)s to refund by bank transfer, made by staff"),
}

Parts = tuple[tuple[str, dict], ...]


@dataclass(frozen=True)
class Outcome:
    status: str  # "pending" (awaiting money), "succeeded", "failed", "requires_action"
    parts: Parts  # what the rail says: codes of ``DETAILS`` with their values (``Outcome.of``)

    @classmethod
    def of(cls, status: str, code: str, **values) -> "Outcome":
        return cls(status, ((code, values),))

    def adding(self, code: str, **values) -> "Outcome":
        return Outcome(self.status, (*self.parts, (code, values)))

    @property
    def detail(self) -> str:
        """What the rail says, in the active language."""
        return describe(self.parts)


def describe(parts) -> str:
    """``Outcome.parts`` (or their JSON form) in the active language. Values are written out for
    the reader: ``amount_cents`` as an amount, ``date`` (ISO) as a date, ``reason`` (a Stripe
    decline code) as why the bank declined."""
    from .stripe.collection import decline_reason_text

    def shown(name, value):
        return (name, decline_reason_text(value)) if name == "reason" else history.written_out(name, value)

    return "; ".join(str(DETAILS[code]) % dict(shown(name, value) for name, value in values.items())
                     for code, values in parts)


class Rail(Protocol):
    code: str

    def collect(self, invoice) -> Outcome: ...

    def refund(self, credit_note, amount_cents: int) -> Outcome: ...


class ManualRail:
    """Bank transfer: the invoice shows BigStock's IBAN and the reference to quote; staff
    record what arrives. Refunds are transfers made by staff."""

    code = "manual"

    def collect(self, invoice) -> Outcome:
        return Outcome.of("pending", "awaiting_transfer")

    def refund(self, credit_note, amount_cents: int) -> Outcome:
        return Outcome.of("pending", "refund_by_transfer")


from .stripe.rail import StripeRail  # noqa: E402 (needs Outcome above)

RAILS: dict[str, Rail] = {"manual": ManualRail(), "stripe": StripeRail()}


def rail_for(code: str) -> Rail:
    return RAILS[code]
