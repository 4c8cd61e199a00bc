"""What the Stripe rail refuses, with a stable code; the portal shows the message as it is."""

from django.utils.translation import gettext_lazy as _

from bigstock.errors import Conflict, DomainError


class StripeNotOffered(DomainError):
    code = "stripe_not_offered"
    status_code = 404

    def default_message(self) -> str:
        return str(_("Payment by card or SEPA Direct Debit is not available: invoices are paid by bank transfer."))


class StripeUnavailable(DomainError):
    """Stripe could not be reached or refused the request: nothing changed on our side."""

    code = "stripe_unavailable"
    status_code = 503

    def default_message(self) -> str:
        return str(_("Our payment provider could not be reached, so nothing was changed. Please try again in a "
                     "few minutes; meanwhile your invoices remain payable by bank transfer."))


class PaymentMethodRefused(DomainError):
    code = "payment_method_refused"


class NoPaymentMethod(Conflict):
    code = "no_payment_method"

    def default_message(self) -> str:
        return str(_("No card or SEPA mandate is saved: add one first."))
