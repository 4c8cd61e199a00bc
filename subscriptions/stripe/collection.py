"""Collecting an invoice with the saved card or SEPA mandate: off-session PaymentIntents.

Each try is a ``PaymentAttempt`` committed before Stripe is called; its public id is the
idempotency key, so a repeated or replayed request never charges twice. Whatever tells us
about a payment (Stripe's answer, a webhook, the sweep, the partner back from authenticating)
ends in ``apply_reading`` with the PaymentIntent as Stripe holds it now, so the order in which
news arrives does not matter:

* ``succeeded`` → the invoice is paid through ``services.record_payment`` (rail ``stripe``,
  reference the PaymentIntent id: recording twice is a no-op);
* ``processing`` (SEPA) → pending until Stripe says;
* ``requires_action`` (strong customer authentication) → the partner is emailed a link to the
  portal page that completes it with Stripe.js;
* declined → the partner is told why and what to do; the dunning schedule
  (``STRIPE_RETRY_DAYS``) tries again, except after a hard decline;
* Stripe unreachable → the attempt keeps its error and the sweep replays the same request.
"""

import datetime as dt
import logging
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from bigstock.errors import DomainError
from bigstock.money import format_cents
from partners.audit import SYSTEM
from partners.models import Partner

from .. import history, periods, services
from ..models import Invoice, Payment, PaymentAttempt, StripeIssue, Subscription
from ..rails import Outcome
from . import gateway, is_enabled, methods, notify
from .errors import NoPaymentMethod, PaymentMethodRefused, StripeUnavailable

logger = logging.getLogger(__name__)

Status = PaymentAttempt.Status

# Declines a retry cannot fix: the partner has to act (new card, new mandate, call the bank).
HARD_DECLINE_CODES = frozenset({
    # cards
    "card_not_supported", "currency_not_supported", "expired_card", "fraudulent", "incorrect_number",
    "invalid_account", "invalid_number", "lost_card", "merchant_blacklist", "new_account_information_available",
    "pickup_card", "restricted_card", "revocation_of_all_authorizations", "revocation_of_authorization",
    "security_violation", "service_not_allowed", "stolen_card", "stop_payment_order", "transaction_not_allowed",
    "payment_intent_authentication_failure",
    # SEPA Direct Debit
    "account_closed", "account_frozen", "bank_account_restricted", "bank_account_unusable", "branch_does_not_exist",
    "debit_not_authorized", "invalid_account_number", "no_account", "sepa_unsupported_account",
})

_REASONS = {
    "insufficient_funds": gettext_lazy("insufficient funds"),
    "expired_card": gettext_lazy("the card has expired"),
    "incorrect_number": gettext_lazy("the card number is no longer valid"),
    "payment_intent_authentication_failure": gettext_lazy("the payment was not confirmed with the bank"),
    "authentication_required": gettext_lazy("the bank asks the cardholder to confirm the payment"),
    "debit_not_authorized": gettext_lazy("the bank says the direct debit was not authorised"),
    "revocation_of_authorization": gettext_lazy("the mandate was revoked"),
    "account_closed": gettext_lazy("the bank account is closed"),
    "no_account": gettext_lazy("the bank account does not exist"),
    "invalid_account_number": gettext_lazy("the bank account number is invalid"),
}


def is_hard_decline(*codes: str) -> bool:
    return any(code in HARD_DECLINE_CODES for code in codes if code)


def decline_reason(attempt: PaymentAttempt):
    """Why the payment failed, in the reader's language (lazy: emails render it in French and English)."""
    return decline_reason_text(decline_reason_code(attempt))


def decline_reason_code(attempt: PaymentAttempt) -> str:
    """The code that says best why the payment failed ("" when none is known)."""
    return next((code for code in (attempt.decline_code, attempt.failure_code) if code in _REASONS), "")


def decline_reason_text(code: str):
    return _REASONS.get(code) or gettext_lazy("the bank declined the payment")


@dataclass(frozen=True)
class Reading:
    """A PaymentIntent as Stripe holds it now (or as a decline describes it)."""

    payment_intent_id: str
    status: str
    amount_cents: int | None = None
    charge_id: str = ""
    failure_code: str = ""
    decline_code: str = ""
    failure_message: str = ""

    @classmethod
    def of(cls, payment_intent) -> "Reading":
        error = gateway.field(payment_intent, "last_payment_error")
        return cls(payment_intent.id, payment_intent.status, payment_intent.amount,
                   gateway.object_id(gateway.field(payment_intent, "latest_charge")),
                   gateway.field(error, "code", ""), gateway.field(error, "decline_code", ""),
                   gateway.field(error, "message", ""))

    @classmethod
    def of_decline(cls, error: gateway.CardError, payment_intent_id: str) -> "Reading":
        details = error.error
        return cls(payment_intent_id, "requires_payment_method", None,
                   gateway.object_id(gateway.field(details, "charge")), error.code or "card_declined",
                   gateway.field(details, "decline_code", ""), error.user_message or str(error))

    @property
    def attempt_status(self) -> str:
        if self.status == "succeeded":
            return Status.SUCCEEDED
        if self.status in ("processing", "requires_capture"):
            return Status.PROCESSING
        if self.status == "requires_action" or (
                self.status == "requires_payment_method" and "authentication_required" in (
                    self.failure_code, self.decline_code)):
            return Status.REQUIRES_ACTION  # off-session SCA: the cardholder confirms on-session
        if self.status == "requires_payment_method":
            return Status.FAILED
        if self.status == "canceled":
            return Status.CANCELED
        return Status.CREATED  # not confirmed yet: read again later


# --- What the rail reports -------------------------------------------------------------------


def outcome_of(attempt: PaymentAttempt) -> Outcome:
    """The attempt as ``subscriptions.rails.Outcome`` (its detail goes on the invoice timeline)."""
    amount = attempt.amount_cents
    if attempt.status == Status.SUCCEEDED:
        return Outcome.of("succeeded", "paid_stripe", amount_cents=amount, id=attempt.stripe_payment_intent_id)
    if attempt.status == Status.PROCESSING:
        return Outcome.of("pending", "debit_in_progress", amount_cents=amount)
    if attempt.status == Status.REQUIRES_ACTION:
        return Outcome.of("requires_action", "requires_action", amount_cents=amount)
    if attempt.status == Status.CREATED:
        return Outcome.of("pending", "stripe_unanswered")
    if attempt.status == Status.CANCELED:
        return Outcome.of("failed", "payment_cancelled", amount_cents=amount)
    if attempt.status == Status.ERROR:
        outcome = Outcome.of("failed", "stripe_refused")
    else:
        outcome = Outcome.of("failed", "declined", amount_cents=amount, reason=decline_reason_code(attempt))
    if attempt.next_retry_at:
        return outcome.adding("next_try", date=timezone.localdate(attempt.next_retry_at).isoformat())
    return outcome.adding("no_retry")


# --- Starting and retrying -------------------------------------------------------------------


def collect(invoice: Invoice) -> Outcome:
    """The rail's ``collect``: the first attempt on a freshly finalized invoice. Called again
    (a redelivered task), it reports the latest attempt instead of starting another."""
    if not is_enabled():
        return Outcome.of("pending", "stripe_off")
    latest = PaymentAttempt.objects.filter(invoice=invoice).order_by("-number").first()
    if latest is not None:
        return outcome_of(latest)
    try:
        with transaction.atomic():
            attempt = _new_attempt(invoice_id=invoice.pk, number=1)
    except NoPaymentMethod:
        return Outcome.of("pending", "no_payment_method")
    if attempt is None:
        return Outcome.of("pending", "nothing_to_collect")
    if attempt.status != Status.CREATED or attempt.stripe_payment_intent_id:
        return outcome_of(attempt)  # another worker got there first
    return outcome_of(send(attempt=attempt, timeline=False))


def _new_attempt(*, invoice_id: int, number: int) -> PaymentAttempt | None:
    """Attempt ``number`` on an open invoice for its balance, with the saved method (inside a transaction)."""
    invoice = Invoice.objects.select_for_update(of=("self",)).select_related("partner").get(pk=invoice_id)
    if invoice.status != Invoice.Status.OPEN or invoice.balance_cents <= 0:
        return None
    existing = PaymentAttempt.objects.filter(invoice=invoice, number=number).first()
    if existing is not None:
        return existing
    method = methods.saved_method(invoice.partner)
    if method is None:
        raise NoPaymentMethod()
    return PaymentAttempt.objects.create(partner=invoice.partner, invoice=invoice, number=number,
                                         amount_cents=invoice.balance_cents, currency=invoice.currency,
                                         payment_method=method)


def retry(*, attempt_id: int, now: dt.datetime | None = None) -> PaymentAttempt | None:
    """The dunning retry of a declined attempt whose ``next_retry_at`` has come: the next attempt."""
    now = now or timezone.now()
    with transaction.atomic():
        attempt = PaymentAttempt.objects.select_for_update(of=("self",)).select_related("invoice__subscription").get(pk=attempt_id)
        if attempt.next_retry_at is None or attempt.next_retry_at > now:
            return None
        attempt.next_retry_at = None  # claimed: this retry happens once
        attempt.save(update_fields=["next_retry_at", "updated_at"])
        is_latest = not PaymentAttempt.objects.filter(invoice=attempt.invoice_id, number__gt=attempt.number).exists()
        if attempt.invoice.subscription.rail != Subscription.Rail.STRIPE or not is_latest:
            return None
        try:
            following = _new_attempt(invoice_id=attempt.invoice_id, number=attempt.number + 1)
        except NoPaymentMethod:
            return None
    return send(attempt=following, timeline=True) if following is not None else None


def collect_open_invoices(*, partner_id: int) -> list[PaymentAttempt]:
    """A method was just saved or automatic payment chosen: charge the open invoices not being
    collected (never tried, or whose last attempt failed)."""
    partner = Partner.objects.get(pk=partner_id)
    subscription = services.current_subscription(partner)
    if not is_enabled() or subscription is None or subscription.rail != Subscription.Rail.STRIPE:
        return []
    started = []
    invoices = Invoice.objects.for_partner(partner).filter(status=Invoice.Status.OPEN).order_by("issue_date", "pk")
    for invoice in invoices:
        latest = PaymentAttempt.objects.filter(invoice=invoice).order_by("-number").first()
        if latest is not None and latest.is_open:
            continue
        try:
            with transaction.atomic():
                if latest is not None:
                    PaymentAttempt.objects.filter(pk=latest.pk).update(next_retry_at=None)
                attempt = _new_attempt(invoice_id=invoice.pk, number=latest.number + 1 if latest else 1)
        except NoPaymentMethod:
            break
        if attempt is not None and attempt.status == Status.CREATED and not attempt.stripe_payment_intent_id:
            started.append(send(attempt=attempt, timeline=True))
    return started


# --- Talking to Stripe -------------------------------------------------------------------------


def send(*, attempt: PaymentAttempt, timeline: bool) -> PaymentAttempt:
    """Create and confirm the off-session PaymentIntent (or replay the same request: same key)."""
    attempt = PaymentAttempt.objects.select_related("invoice", "partner", "payment_method").get(pk=attempt.pk)
    invoice, partner, method = attempt.invoice, attempt.partner, attempt.payment_method
    try:
        customer = methods.ensure_customer(partner=partner)
        payment_intent = gateway.create_payment_intent(params={
            "amount": attempt.amount_cents,
            "currency": attempt.currency.lower(),
            "customer": customer.stripe_id,
            "payment_method": method.stripe_id,
            "payment_method_types": [method.kind],
            "confirm": True,
            "off_session": True,
            "metadata": {"invoice": invoice.number, "invoice_id": invoice.public_id, "partner": partner.public_id,
                         "partner_name": partner.legal_name[:100], "attempt": attempt.public_id},
        }, idempotency_key=attempt.public_id)
    except gateway.CardError as error:
        try:
            payment_intent_id = gateway.payment_intent_of_declined(error)
        except gateway.StripeError:
            payment_intent_id = ""  # the sweep cannot read it back; the decline itself is known
        return apply_reading(attempt_id=attempt.pk, reading=Reading.of_decline(error, payment_intent_id),
                             timeline=timeline)
    except gateway.StripeError as error:
        return _record_error(attempt_id=attempt.pk, error=error, timeline=timeline)
    return apply_reading(attempt_id=attempt.pk, reading=Reading.of(payment_intent), timeline=timeline)


def _record_error(*, attempt_id: int, error: gateway.StripeError, timeline: bool) -> PaymentAttempt:
    """Stripe did not answer (the sweep replays the same request later) or refused the request
    (nothing was charged: the attempt ends and the dunning schedule tries again)."""
    uncertain = gateway.is_uncertain(error)
    logger.warning("stripe collection error: %s", gateway.describe(error), extra={"attempt": attempt_id})
    with transaction.atomic():
        attempt = PaymentAttempt.objects.select_for_update(of=("self",)).select_related("invoice", "partner").get(pk=attempt_id)
        if attempt.status != Status.CREATED:
            return attempt  # a webhook told us meanwhile
        attempt.error = gateway.describe(error)
        if not uncertain:
            attempt.status = Status.ERROR
            attempt.settled_at = timezone.now()
            attempt.next_retry_at = _next_retry_at(attempt)
        attempt.save()
        if not uncertain:
            notify.report(kind=StripeIssue.Kind.STRIPE_ERROR, stripe_object_id=f"{type(error).__name__}:{error.code or ''}",
                          message=attempt.error, partner=attempt.partner, invoice=attempt.invoice, attempt=attempt,
                          tell_staff=True)
            if timeline:
                _timeline(attempt)
    return attempt


def _next_retry_at(attempt: PaymentAttempt) -> dt.datetime | None:
    days = settings.STRIPE_RETRY_DAYS
    if attempt.is_hard_decline or attempt.number > len(days):
        return None
    return timezone.now() + dt.timedelta(days=days[attempt.number - 1])


def _timeline(attempt: PaymentAttempt) -> None:
    history.record(attempt.invoice, "collection", detail=outcome_of(attempt).parts)


# --- Outcomes ----------------------------------------------------------------------------------


def apply_reading(*, attempt_id: int, reading: Reading, timeline: bool = True) -> PaymentAttempt:
    """Bring the attempt (and the invoice) to what Stripe says the PaymentIntent is now."""
    with transaction.atomic():
        attempt = (PaymentAttempt.objects.select_for_update(of=("self",))
                   .select_related("invoice", "partner", "payment_method").get(pk=attempt_id))
        previous = attempt.status
        status = reading.attempt_status
        if previous == Status.SUCCEEDED or (status == Status.CREATED and attempt.stripe_payment_intent_id):
            return attempt  # paid is final; a PaymentIntent read before its confirmation changes nothing
        attempt.stripe_payment_intent_id = reading.payment_intent_id or attempt.stripe_payment_intent_id
        attempt.stripe_charge_id = reading.charge_id or attempt.stripe_charge_id
        attempt.status = status
        attempt.error = ""
        if status in (Status.FAILED, Status.REQUIRES_ACTION):
            attempt.failure_code = reading.failure_code[:60]
            attempt.decline_code = reading.decline_code[:60]
            attempt.failure_message = reading.failure_message[:300]
        if status == Status.FAILED and previous != Status.FAILED:
            attempt.is_hard_decline = is_hard_decline(reading.failure_code, reading.decline_code)
            attempt.next_retry_at = _next_retry_at(attempt)
        if status in (Status.SUCCEEDED, Status.FAILED, Status.CANCELED):
            attempt.settled_at = timezone.now()
            if status != Status.FAILED:
                attempt.next_retry_at = None
        attempt.save()
        if reading.amount_cents is not None and reading.amount_cents != attempt.amount_cents:
            notify.report(kind=StripeIssue.Kind.AMOUNT_MISMATCH, stripe_object_id=attempt.stripe_payment_intent_id,
                          message=_("Stripe holds %(stripe)s for attempt %(attempt)s of %(ours)s") % {
                              "stripe": format_cents(reading.amount_cents), "attempt": attempt,
                              "ours": format_cents(attempt.amount_cents)},
                          partner=attempt.partner, invoice=attempt.invoice, attempt=attempt)
        if status == Status.SUCCEEDED:
            _record_payment(attempt, reading)
        if status != previous:
            logger.info("stripe attempt %s: %s → %s", attempt.public_id, previous, status,
                        extra={"partner": attempt.partner.public_id, "invoice": attempt.invoice.number})
            if timeline:
                _timeline(attempt)
            attempt_pk = attempt.pk
            if status == Status.FAILED:
                transaction.on_commit(lambda: notify.payment_failed(attempt_id=attempt_pk))
            elif status == Status.REQUIRES_ACTION:
                transaction.on_commit(lambda: notify.authentication_required(attempt_id=attempt_pk))
    return attempt


def _record_payment(attempt: PaymentAttempt, reading: Reading) -> None:
    invoice = Invoice.objects.get(pk=attempt.invoice_id)
    was_open = invoice.status == Invoice.Status.OPEN
    method = Payment.Method.SEPA if attempt.payment_method and attempt.payment_method.kind == "sepa_debit" \
        else Payment.Method.CARD
    try:
        services.record_payment(invoice=invoice, amount_cents=reading.amount_cents or attempt.amount_cents,
                                received_on=periods.today(), reference=attempt.stripe_payment_intent_id,
                                actor=SYSTEM, method=method, rail="stripe")
    except DomainError as error:
        was_open, problem = False, error.message
    else:
        problem = _("the invoice was already %(status)s") % {"status": invoice.get_status_display().lower()}
    if not was_open:
        notify.report(kind=StripeIssue.Kind.PAID_NOT_OPEN, stripe_object_id=attempt.stripe_payment_intent_id,
                      message=_("Stripe collected %(amount)s for %(invoice)s but %(problem)s: refund or credit it.")
                      % {"amount": format_cents(attempt.amount_cents), "invoice": invoice, "problem": problem},
                      partner=attempt.partner, invoice=invoice, attempt=attempt, tell_staff=True)


# --- Reading back --------------------------------------------------------------------------


def reconcile(*, attempt_id: int, now: dt.datetime | None = None) -> PaymentAttempt:
    """The sweep: read an attempt still without outcome from Stripe, or replay its request
    (same idempotency key, valid 24 hours at Stripe) when the answer never came."""
    now = now or timezone.now()
    attempt = PaymentAttempt.objects.select_related("invoice", "partner").get(pk=attempt_id)
    if not attempt.is_open:
        return attempt
    if not attempt.stripe_payment_intent_id:
        if now - attempt.created_at < dt.timedelta(hours=23):
            return send(attempt=attempt, timeline=True)
        with transaction.atomic():
            PaymentAttempt.objects.filter(pk=attempt.pk, status=Status.CREATED).update(
                status=Status.ERROR, settled_at=now, updated_at=now)
            notify.report(kind=StripeIssue.Kind.NO_OUTCOME, stripe_object_id=attempt.public_id,
                          message=_("No answer from Stripe for %(attempt)s within 23 hours: check in the Stripe "
                                    "dashboard (metadata attempt=%(id)s) before charging again.") % {
                              "attempt": attempt, "id": attempt.public_id},
                          partner=attempt.partner, invoice=attempt.invoice, attempt=attempt, tell_staff=True)
        return attempt
    try:
        payment_intent = gateway.retrieve_payment_intent(attempt.stripe_payment_intent_id)
    except gateway.StripeError as error:
        PaymentAttempt.objects.filter(pk=attempt.pk).update(error=gateway.describe(error), updated_at=now,
                                                            reconcile_count=attempt.reconcile_count + 1)
        if attempt.reconcile_count + 1 >= 5:
            notify.report(kind=StripeIssue.Kind.NO_OUTCOME, stripe_object_id=attempt.public_id,
                          message=gateway.describe(error), partner=attempt.partner, invoice=attempt.invoice,
                          attempt=attempt)
        return attempt
    attempt = apply_reading(attempt_id=attempt.pk, reading=Reading.of(payment_intent))
    PaymentAttempt.objects.filter(pk=attempt.pk).update(updated_at=now)  # read: next look after the delay
    return attempt


# --- The partner confirms a payment (strong customer authentication) ----------------------------


@dataclass(frozen=True)
class AuthenticationRequest:
    attempt: PaymentAttempt
    client_secret: str
    payment_method_id: str  # set when Stripe needs the method again (an off-session decline)


def authentication_requests(partner: Partner) -> list[AuthenticationRequest]:
    """The partner's payments waiting for the cardholder, with what Stripe.js needs to confirm them."""
    waiting = list(PaymentAttempt.objects.for_partner(partner).filter(status=Status.REQUIRES_ACTION)
                   .select_related("invoice", "payment_method").order_by("created_at"))
    requests = []
    try:
        for attempt in waiting:
            payment_intent = gateway.retrieve_payment_intent(attempt.stripe_payment_intent_id)
            if payment_intent.status not in ("requires_action", "requires_payment_method"):
                apply_reading(attempt_id=attempt.pk, reading=Reading.of(payment_intent))
                continue
            method = attempt.payment_method.stripe_id if payment_intent.status == "requires_payment_method" else ""
            requests.append(AuthenticationRequest(attempt, payment_intent.client_secret, method))
    except gateway.StripeError as error:
        logger.warning("stripe read failed: %s", gateway.describe(error), extra={"partner": partner.public_id})
        raise StripeUnavailable() from error
    return requests


def confirm_authenticated(*, partner: Partner, payment_intent_id: str) -> PaymentAttempt:
    """Back from Stripe.js: read the PaymentIntent and settle the partner's attempt."""
    attempt = PaymentAttempt.objects.for_partner(partner).filter(
        stripe_payment_intent_id=payment_intent_id).first() if payment_intent_id else None
    if attempt is None:
        raise PaymentMethodRefused(_("This payment was not found for your account."))
    try:
        payment_intent = gateway.retrieve_payment_intent(payment_intent_id)
    except gateway.StripeError as error:
        raise StripeUnavailable() from error
    return apply_reading(attempt_id=attempt.pk, reading=Reading.of(payment_intent))
