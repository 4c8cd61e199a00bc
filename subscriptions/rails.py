"""Payment rails: how money for an invoice is collected and given back.

A rail only moves money; BigStock's invoices stay the source of truth. Outcomes come back
synchronously (``collect`` returns one) or later through ``services.record_payment`` /
webhooks. The Stripe rail plugs in here with the same interface.
"""

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Outcome:
    status: str  # "pending" (awaiting money), "succeeded", "failed", "requires_action"
    detail: str = ""


class Rail(Protocol):
    code: str

    def collect(self, invoice) -> Outcome: ...

    def refund(self, credit_note, amount_cents: int) -> Outcome: ...


class ManualRail:
    """Bank transfer: the invoice shows BigStock's IBAN and the reference to quote; staff
    record what arrives. Refunds are transfers made by staff."""

    code = "manual"

    def collect(self, invoice) -> Outcome:
        return Outcome("pending", "awaiting bank transfer")

    def refund(self, credit_note, amount_cents: int) -> Outcome:
        return Outcome("pending", "refund by bank transfer, made by staff")


from .stripe.rail import StripeRail  # noqa: E402 (needs Outcome above)

RAILS: dict[str, Rail] = {"manual": ManualRail(), "stripe": StripeRail()}


def rail_for(code: str) -> Rail:
    return RAILS[code]
