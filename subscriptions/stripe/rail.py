"""The ``stripe`` entry of ``subscriptions.rails.RAILS``: collects with the saved card or SEPA
mandate, refunds on the original payment. Imports lazily: the rails are loaded by the services
this package uses."""

from ..rails import Outcome


class StripeRail:
    code = "stripe"

    def collect(self, invoice) -> Outcome:
        from .collection import collect

        return collect(invoice)

    def refund(self, credit_note, amount_cents: int) -> Outcome:
        from . import refunds

        return refunds.request(credit_note, amount_cents)
