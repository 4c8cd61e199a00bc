"""Subscriptions and invoicing: every state change is one function, one transaction.

Periods are calendar months in Europe/Paris, invoiced in advance. Upgrades apply at once
with a proration invoice; downgrades and cancellations at the end of the period. Invoices
are drafts until ``finalize_invoice`` numbers and freezes them.
"""

import datetime as dt
import functools
import logging
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.utils import formats, timezone, translation
from django.utils.translation import gettext as _

from bigstock import events, hotcache, webhooks
from bigstock.errors import Conflict, DomainError
from bigstock.money import format_cents, prorate_cents, vat_cents
from partners import audit
from partners.audit import Actor
from partners.models import Partner

from . import history, numbering, periods, rails, selectors, standing, vat
from .models import (
    Coupon,
    CouponRedemption,
    CreditNote,
    Invoice,
    InvoiceLine,
    Payment,
    Plan,
    Subscription,
)

logger = logging.getLogger(__name__)


class SamePlan(DomainError):
    code = "same_plan"


class PlanUnavailable(DomainError):
    code = "plan_unavailable"


class AlreadySubscribed(Conflict):
    code = "already_subscribed"


class NoSubscription(DomainError):
    code = "no_subscription"
    status_code = 404


class AlreadyCanceled(Conflict):
    code = "already_canceled"


class NotCanceled(Conflict):
    code = "not_canceled"


class InvalidPayment(DomainError):
    code = "invalid_payment"


class PaymentReferenceUsed(Conflict):
    code = "payment_reference_used"


class InvoiceNotOpen(Conflict):
    code = "invoice_not_open"


class InvalidCredit(DomainError):
    code = "invalid_credit"


class InvalidCoupon(DomainError):
    code = "invalid_coupon"


def _in_invoice_language(function):
    """Invoice lines are written in French, the invoice's legal language, whoever triggers them."""

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        with translation.override(settings.LANGUAGE_CODE):
            return function(*args, **kwargs)

    return wrapper


@dataclass(frozen=True)
class LineDraft:
    description: str
    unit_price_cents: int
    period_start: dt.date | None = None
    period_end: dt.date | None = None
    quantity: int = 1

    @property
    def amount_cents(self) -> int:
        return self.unit_price_cents * self.quantity


@dataclass(frozen=True)
class Preview:
    """What a change will cost, shown before the partner confirms."""

    lines: list[LineDraft]
    subtotal_cents: int
    vat_rate: object
    vat_cents: int
    total_cents: int
    takes_effect_on: dt.date
    immediate: bool


# --- Reads --------------------------------------------------------------------------------


def current_subscription(partner: Partner) -> Subscription | None:
    return (
        Subscription.objects.for_partner(partner).exclude(status=Subscription.Status.CANCELED)
        .select_related("plan", "scheduled_plan").first()
    )


@dataclass(frozen=True)
class PlanTerms:
    """What every API call applies from the partner's plan: the catalogue discount and the rate."""

    wholesale_discount: Decimal
    api_rate_per_min: int | None  # None without a subscription: the API's default rate applies


NO_PLAN = PlanTerms(wholesale_discount=Decimal("0"), api_rate_per_min=None)

# Read on every API call (prices on the feed, the catalogue and new orders; the rate limit): kept
# a few seconds per process (bigstock.hotcache); saving a subscription or a plan clears them.
plan_terms_cache = hotcache.HotCache("plan_terms")


def plan_terms(partner: Partner) -> PlanTerms:
    """The terms of the partner's current plan, at most BIGSTOCK_HOT_CACHE_SECONDS old."""
    def load() -> PlanTerms:
        subscription = current_subscription(partner)
        if subscription is None:
            return NO_PLAN
        return PlanTerms(subscription.plan.wholesale_discount, subscription.plan.api_rate_per_min)

    return plan_terms_cache.get_or_load(partner.pk, load)


def offered_plans() -> list[Plan]:
    """The newest non-archived version of each public plan, cheapest first."""
    latest: dict[str, Plan] = {}
    for plan in Plan.objects.filter(archived_at=None, is_public=True).order_by("code", "-version"):
        latest.setdefault(plan.code, plan)
    return sorted(latest.values(), key=lambda plan: plan.price_cents)


def _period_label(start: dt.date, end: dt.date) -> str:
    last = end - dt.timedelta(days=1)
    return f"{start:%d/%m/%Y} - {last:%d/%m/%Y}"


def _totals(partner: Partner, lines: list[LineDraft]) -> tuple[int, object, int, int, vat.VatRegime]:
    regime = vat.regime_for(country=str(partner.country), vat_number=partner.vat_number)
    subtotal = sum(line.amount_cents for line in lines)
    tax = vat_cents(subtotal, regime.rate)
    return subtotal, regime.rate, tax, subtotal + tax, regime


def _require_offered(plan: Plan) -> None:
    if plan.is_archived or not plan.is_public:
        raise PlanUnavailable(_("The plan %(plan)s is no longer offered.") % {"plan": plan.name},
                              fields={"plan": [_("Choose a plan that is offered.")]})


# --- Invoices -----------------------------------------------------------------------------


def _invoice_payload(invoice: Invoice) -> dict:
    return {
        "id": invoice.public_id, "number": invoice.number, "status": invoice.status,
        "total_cents": invoice.total_cents, "balance_cents": invoice.balance_cents, "currency": invoice.currency,
        "due_date": invoice.due_date.isoformat() if invoice.due_date else None,
    }


def _create_draft(*, subscription: Subscription, kind: str, period_start: dt.date, period_end: dt.date,
                  lines: list[LineDraft], finalize_on: dt.date | None = None) -> Invoice:
    """A draft invoice with its lines; with ``finalize_on``, finalized at once in the same transaction."""
    subtotal, rate, tax, total, regime = _totals(subscription.partner, lines)
    invoice = Invoice(
        partner=subscription.partner, subscription=subscription, kind=kind, period_start=period_start,
        period_end=period_end, vat_rate=rate, vat_regime=regime.code, subtotal_cents=subtotal, vat_cents=tax,
        total_cents=total,
    )
    if finalize_on is not None:
        _freeze(invoice, today=finalize_on)  # inserted as finalized, but for its number
    invoice.save(force_insert=True)
    InvoiceLine.objects.bulk_create([
        InvoiceLine(invoice=invoice, description=line.description, quantity=line.quantity,
                    unit_price_cents=line.unit_price_cents, amount_cents=line.amount_cents,
                    period_start=line.period_start, period_end=line.period_end, position=position)
        for position, line in enumerate(lines)
    ])
    if finalize_on is not None:
        return _number(invoice)
    history.record(invoice, "created")
    return invoice


def _buyer_snapshot(partner: Partner) -> dict:
    return {
        "id": partner.public_id, "legal_name": partner.legal_name, "trade_name": partner.trade_name,
        "address_line1": partner.address_line1, "address_line2": partner.address_line2,
        "postcode": partner.postcode, "city": partner.city, "country": str(partner.country),
        "siren": partner.siren, "siret": partner.siret, "vat_number": partner.vat_number,
        "billing_email": partner.billing_email,
    }


@transaction.atomic(savepoint=False)  # nested in a larger operation, its failure fails that operation
def finalize_invoice(*, invoice: Invoice, today: dt.date | None = None) -> Invoice:
    """Number the invoice (next in the gapless series), freeze both identities, open it for
    payment; after commit, render the PDF, email it and ask the rail to collect."""
    invoice = Invoice.objects.select_for_update(of=("self",)).select_related("partner", "subscription").get(pk=invoice.pk)
    if invoice.status != Invoice.Status.DRAFT:
        return invoice
    return _finalize(invoice, today=today or periods.today())


def _finalize(invoice: Invoice, *, today: dt.date) -> Invoice:
    """``finalize_invoice`` on a draft this transaction holds."""
    _freeze(invoice, today=today)
    return _number(invoice, also_save=("issue_date", "due_date", "seller", "buyer", "status"))


def _freeze(invoice: Invoice, *, today: dt.date) -> None:
    """What finalizing sets before the number: both identities, the dates, the status."""
    invoice.seller = dict(settings.BIGSTOCK_SELLER)
    invoice.buyer = _buyer_snapshot(invoice.partner)
    invoice.issue_date = today
    invoice.due_date = today + dt.timedelta(days=settings.BIGSTOCK_PAYMENT_TERMS_DAYS)
    invoice.status = Invoice.Status.OPEN if invoice.total_cents > 0 else Invoice.Status.PAID


def _number(invoice: Invoice, *, also_save: tuple[str, ...] = ()) -> Invoice:
    """Give a frozen invoice the next number of its series, and tell the partner. The series row
    stays locked from here to commit, serialising every finalization: only what needs the number
    comes after it (then the finalization time, so those times follow the numbers)."""
    endpoints = webhooks.enabled_endpoints(invoice.partner)  # for the event below, read before the lock
    invoice.number = numbering.next_number(series=numbering.INVOICE_SERIES, year=invoice.issue_date.year)
    invoice.finalized_at = timezone.now()
    if invoice.status == Invoice.Status.PAID:
        invoice.paid_at = invoice.finalized_at
    invoice.save(update_fields=["number", "finalized_at", "paid_at", *also_save])
    history.record(invoice, "finalized", number=invoice.number)
    events.publish(partner=invoice.partner, type="invoice.finalized", data=_invoice_payload(invoice),
                   endpoints=endpoints)

    from . import tasks  # tasks import this module

    invoice_id = invoice.pk
    transaction.on_commit(lambda: tasks.process_finalized_invoice.delay(invoice_id))
    return invoice


def collect_invoice(*, invoice_id: int) -> rails.Outcome | None:
    """Ask the subscription's rail to collect an open invoice (idempotent on the rail's side)."""
    invoice = Invoice.objects.select_related("subscription").get(pk=invoice_id)
    if invoice.status != Invoice.Status.OPEN:
        return None
    outcome = rails.rail_for(invoice.subscription.rail).collect(invoice)
    history.record(invoice, "collection", detail=outcome.parts)
    return outcome


# --- Coupons --------------------------------------------------------------------------------


def find_coupon(*, code: str, plan: Plan, today: dt.date) -> Coupon:
    """The coupon behind ``code`` if it can be redeemed on ``plan`` today, or ``InvalidCoupon`` saying why."""
    coupon = Coupon.objects.filter(code__iexact=code.strip()).first()
    refuse = None
    if coupon is None:
        refuse = _("This offer code does not exist.")
    elif coupon.redeem_by and coupon.redeem_by < today:
        refuse = _("This offer ended on %(date)s.") % {"date": formats.date_format(coupon.redeem_by)}
    elif coupon.max_redemptions is not None and coupon.redemptions.count() >= coupon.max_redemptions:
        refuse = _("This offer has been fully used.")
    elif coupon.plans.exists() and not coupon.plans.filter(code=plan.code).exists():
        refuse = _("This offer does not apply to the %(plan)s plan.") % {"plan": plan.name}
    if refuse:
        raise InvalidCoupon(refuse, fields={"coupon": [refuse]})
    return coupon


@_in_invoice_language
def _discount_line(subscription: Subscription, base_cents: int) -> LineDraft | None:
    """The coupon's discount on one monthly invoice (consumes one of its invoices)."""
    try:
        redemption = subscription.redemption  # the monthly run loads it with the subscription
    except CouponRedemption.DoesNotExist:
        return None
    off = selectors.offer_discount_cents(redemption, base_cents)
    if off is None:
        return None
    redemption.invoices_left -= 1
    redemption.save(update_fields=["invoices_left"])
    return LineDraft(_("Offer %(name)s") % {"name": redemption.coupon.name}, -off)


# --- Subscribing and changing plan ----------------------------------------------------------


@transaction.atomic
def subscribe(*, partner: Partner, plan: Plan, actor: Actor, rail: str = "manual", coupon_code: str = "",
              today: dt.date | None = None) -> Subscription:
    """Start a subscription today: the first period runs to the end of the month, prorated by day.
    An offer code, when given, discounts the first invoices."""
    today = today or periods.today()
    _require_offered(plan)
    coupon = find_coupon(code=coupon_code, plan=plan, today=today) if coupon_code.strip() else None
    Partner.objects.select_for_update().get(pk=partner.pk)  # one subscribe at a time per partner
    if current_subscription(partner) is not None:
        raise AlreadySubscribed(_("This partner already has a subscription: change its plan instead."))
    _month_start, period_end = periods.month_of(today)
    subscription = Subscription.objects.create(
        partner=partner, plan=plan, rail=rail, started_on=today, current_period_start=today,
        current_period_end=period_end,
        # Bank transfer: served at once on payment terms. Automatic rails wait for the first payment.
        status=Subscription.Status.ACTIVE if rail == "manual" else Subscription.Status.INCOMPLETE,
    )
    month_days = periods.days(*periods.month_of(today))
    used_days = periods.days(today, period_end)
    price = prorate_cents(plan.price_cents, used_days, month_days)
    description = _subscription_line_description(plan, today, period_end, used_days, month_days)
    if coupon is not None:
        CouponRedemption.objects.create(partner=partner, coupon=coupon, subscription=subscription,
                                        invoices_left=coupon.duration_months)
    lines = [LineDraft(description, price, today, period_end)]
    discount = _discount_line(subscription, price)
    _create_draft(subscription=subscription, kind=Invoice.Kind.RECURRING, period_start=today, period_end=period_end,
                  lines=[*lines, discount] if discount else lines, finalize_on=today)
    audit.record(actor=actor, action="subscription.created", partner=partner, target=subscription,
                 data={"plan": plan.code, "version": plan.version, "rail": rail,
                       "coupon": coupon.code if coupon else None})
    _publish_subscription(subscription)
    standing.refresh(partner=partner, today=today)
    return subscription


@_in_invoice_language
def _subscription_line_description(plan: Plan, start: dt.date, end: dt.date, days: int, month_days: int) -> str:
    description = _("Subscription %(plan)s, %(period)s") % {"plan": plan.name_fr, "period": _period_label(start, end)}
    if days != month_days:
        description += " " + _("(%(days)d/%(month)d days)") % {"days": days, "month": month_days}
    return description


def _publish_subscription(subscription: Subscription) -> None:
    events.publish(partner=subscription.partner, type="subscription.updated", data={
        "id": subscription.public_id, "status": subscription.status, "plan": subscription.plan.code,
        "current_period_end": subscription.current_period_end.isoformat(),
        "cancel_at_period_end": subscription.cancel_at_period_end,
        "scheduled_plan": subscription.scheduled_plan.code if subscription.scheduled_plan else None,
    })


@_in_invoice_language
def _proration_lines(subscription: Subscription, new_plan: Plan, today: dt.date) -> list[LineDraft]:
    """Credit the unused part of the old plan and charge the rest of the month on the new one.
    The debit is the credit plus the prorated difference, so the two always differ by exactly
    the price difference for the remaining days."""
    month_days = periods.days(*periods.month_of(today))
    remaining = periods.days(today, subscription.current_period_end)
    credit = prorate_cents(subscription.plan.price_cents, remaining, month_days)
    debit = credit + prorate_cents(new_plan.price_cents - subscription.plan.price_cents, remaining, month_days)
    end = subscription.current_period_end
    label = _period_label(today, end)
    return [
        LineDraft(_("Unused time on %(plan)s, %(period)s") % {"plan": subscription.plan.name_fr, "period": label},
                  -credit, today, end),
        LineDraft(_("%(plan)s, %(period)s") % {"plan": new_plan.name_fr, "period": label}, debit, today, end),
    ]


def preview_change(*, subscription: Subscription, plan: Plan, today: dt.date | None = None) -> Preview:
    """The exact amounts of a plan change, without changing anything."""
    today = today or periods.today()
    _require_offered(plan)
    if plan.pk == subscription.plan_id:
        raise SamePlan(_("You are already on the %(plan)s plan.") % {"plan": plan.name})
    if plan.price_cents > subscription.plan.price_cents:
        lines = _proration_lines(subscription, plan, today)
        subtotal, rate, tax, total, _regime = _totals(subscription.partner, lines)
        return Preview(lines, subtotal, rate, tax, total, today, immediate=True)
    next_lines = [LineDraft(plan.name_fr, plan.price_cents)]
    subtotal, rate, tax, total, _regime = _totals(subscription.partner, next_lines)
    return Preview(next_lines, subtotal, rate, tax, total, subscription.current_period_end, immediate=False)


@transaction.atomic
def change_plan(*, subscription: Subscription, plan: Plan, actor: Actor, today: dt.date | None = None) -> Subscription:
    """Upgrade now with a proration invoice, or schedule a downgrade for the end of the period."""
    today = today or periods.today()
    subscription = Subscription.objects.select_for_update(of=("self",)).select_related("plan", "partner").get(pk=subscription.pk)
    preview = preview_change(subscription=subscription, plan=plan, today=today)
    previous = subscription.plan
    if preview.immediate:
        subscription.plan = plan
        subscription.scheduled_plan = None
        subscription.save(update_fields=["plan", "scheduled_plan", "updated_at"])
        _create_draft(subscription=subscription, kind=Invoice.Kind.PRORATION, period_start=today,
                      period_end=subscription.current_period_end, lines=preview.lines, finalize_on=today)
    else:
        subscription.scheduled_plan = plan
        subscription.save(update_fields=["scheduled_plan", "updated_at"])
    audit.record(actor=actor, action="subscription.plan_changed", partner=subscription.partner, target=subscription,
                 data={"from": previous.code, "to": plan.code, "immediate": preview.immediate,
                       "takes_effect_on": preview.takes_effect_on.isoformat()})
    _publish_subscription(subscription)
    return subscription


@transaction.atomic
def undo_scheduled_change(*, subscription: Subscription, actor: Actor) -> Subscription:
    subscription = Subscription.objects.select_for_update().get(pk=subscription.pk)
    if subscription.scheduled_plan_id is None:
        raise NotCanceled(_("There is no scheduled plan change to undo."))
    subscription.scheduled_plan = None
    subscription.save(update_fields=["scheduled_plan", "updated_at"])
    audit.record(actor=actor, action="subscription.change_undone", partner=subscription.partner, target=subscription)
    _publish_subscription(subscription)
    return subscription


@transaction.atomic
def cancel_subscription(*, subscription: Subscription, actor: Actor) -> Subscription:
    """Cancel at the end of the current period (no refund for the period already paid)."""
    subscription = Subscription.objects.select_for_update().get(pk=subscription.pk)
    if subscription.cancel_at_period_end or subscription.status == Subscription.Status.CANCELED:
        raise AlreadyCanceled(_("This subscription is already cancelled."))
    subscription.cancel_at_period_end = True
    subscription.save(update_fields=["cancel_at_period_end", "updated_at"])
    audit.record(actor=actor, action="subscription.canceled", partner=subscription.partner, target=subscription,
                 data={"ends_on": subscription.current_period_end.isoformat()})
    _publish_subscription(subscription)
    return subscription


@transaction.atomic
def resume_subscription(*, subscription: Subscription, actor: Actor) -> Subscription:
    subscription = Subscription.objects.select_for_update().get(pk=subscription.pk)
    if not subscription.cancel_at_period_end:
        raise NotCanceled(_("This subscription is not cancelled."))
    subscription.cancel_at_period_end = False
    subscription.save(update_fields=["cancel_at_period_end", "updated_at"])
    audit.record(actor=actor, action="subscription.resumed", partner=subscription.partner, target=subscription)
    _publish_subscription(subscription)
    return subscription


# --- The monthly run ------------------------------------------------------------------------


def due_subscription_ids(*, today: dt.date) -> list[tuple[int, dt.date]]:
    """(id, period to invoice) for every subscription whose period has ended."""
    return list(
        Subscription.objects.exclude(status=Subscription.Status.CANCELED)
        .filter(current_period_end__lte=today).values_list("pk", "current_period_end")
    )


@transaction.atomic
def invoice_next_period(*, subscription_id: int, period_start: dt.date, today: dt.date | None = None) -> Invoice | None:
    """Roll a subscription into the period starting ``period_start`` and invoice it, exactly once.

    Safe to run twice or concurrently: the subscription row is locked, a period already
    rolled returns its existing invoice, and (subscription, period) is unique in the database.
    """
    today = today or periods.today()
    # Only the subscription row is locked: a plan is shared by thousands of subscriptions, and
    # locking it (FOR UPDATE without OF locks every joined row) would bill them one at a time.
    subscription = (Subscription.objects.select_for_update(of=("self",))
                    .select_related("plan", "partner", "redemption__coupon").get(pk=subscription_id))
    if subscription.current_period_end != period_start:
        return Invoice.objects.filter(subscription=subscription, kind=Invoice.Kind.RECURRING,
                                      period_start=period_start).first()
    if subscription.cancel_at_period_end:
        subscription.status = Subscription.Status.CANCELED
        subscription.canceled_at = timezone.now()
        subscription.save(update_fields=["status", "canceled_at", "updated_at"])
        _publish_subscription(subscription)
        standing.refresh(partner=subscription.partner, today=today)
        return None
    if subscription.scheduled_plan_id:
        subscription.plan, subscription.scheduled_plan = subscription.scheduled_plan, None
    start, end = periods.month_of(period_start)
    subscription.current_period_start, subscription.current_period_end = start, end
    subscription.save(update_fields=["plan", "scheduled_plan", "current_period_start", "current_period_end",
                                     "updated_at"])
    month_days = periods.days(start, end)
    line = LineDraft(_subscription_line_description(subscription.plan, start, end, month_days, month_days),
                     subscription.plan.price_cents, start, end)
    # The locked subscription row serialises runs; the unique (subscription, period) constraint
    # is the last guard: a violation rolls everything back and the retried task finds the invoice.
    discount = _discount_line(subscription, line.amount_cents)
    return _create_draft(subscription=subscription, kind=Invoice.Kind.RECURRING, period_start=start, period_end=end,
                         lines=[line, discount] if discount else [line], finalize_on=today)


# --- Payments and credit notes ----------------------------------------------------------------


def _settle(invoice: Invoice) -> None:
    """Mark paid when nothing is owed; restore a late subscription once nothing is overdue."""
    if invoice.status == Invoice.Status.OPEN and invoice.balance_cents <= 0:
        if invoice.amount_paid_cents == 0:
            invoice.status = Invoice.Status.VOID
        else:
            invoice.status = Invoice.Status.PAID
            invoice.paid_at = timezone.now()
            events.publish(partner=invoice.partner, type="invoice.paid", data=_invoice_payload(invoice))
            history.record(invoice, "paid")
        invoice.save(update_fields=["status", "paid_at"])
    subscription = Subscription.objects.select_for_update().get(pk=invoice.subscription_id)
    late = Invoice.objects.filter(subscription=subscription, status=Invoice.Status.OPEN,
                                  due_date__lt=periods.today()).exists()
    if not late and subscription.status in (Subscription.Status.PAST_DUE, Subscription.Status.SUSPENDED,
                                            Subscription.Status.INCOMPLETE):
        subscription.status = Subscription.Status.ACTIVE
        subscription.past_due_since = subscription.grace_until = None
        subscription.save(update_fields=["status", "past_due_since", "grace_until", "updated_at"])
        _publish_subscription(subscription)
    standing.refresh(partner=invoice.partner)


@transaction.atomic
def record_payment(*, invoice: Invoice, amount_cents: int, received_on: dt.date, reference: str, actor: Actor,
                   method: str = Payment.Method.TRANSFER, rail: str = "manual") -> Payment:
    """Record money received. The same (rail, reference) twice records it once."""
    if not isinstance(amount_cents, int) or amount_cents <= 0:
        raise InvalidPayment(_("A payment must be a positive amount."), fields={"amount_cents": [_("Must be positive.")]})
    reference = reference.strip()
    if not reference:
        raise InvalidPayment(_("Give the payment's reference (bank transfer label or transaction id)."),
                             fields={"reference": [_("Required.")]})
    existing = Payment.objects.filter(rail=rail, reference=reference).first()
    if existing is not None:
        if existing.invoice_id != invoice.pk:
            raise PaymentReferenceUsed(_("This payment reference is already recorded on invoice %(number)s.")
                                       % {"number": existing.invoice.number})
        return existing
    invoice = Invoice.objects.select_for_update(of=("self",)).select_related("partner").get(pk=invoice.pk)
    if invoice.status not in (Invoice.Status.OPEN, Invoice.Status.PAID):
        raise InvoiceNotOpen(_("Payments can only be recorded on a finalized invoice."))
    payment = Payment.objects.create(
        partner=invoice.partner, invoice=invoice, rail=rail, reference=reference, method=method,
        amount_cents=amount_cents, received_on=received_on, recorded_by=actor.user,
    )
    invoice.amount_paid_cents += amount_cents
    invoice.save(update_fields=["amount_paid_cents"])
    history.record(invoice, "payment", amount_cents=amount_cents, reference=reference)
    if invoice.balance_cents < 0:
        history.record(invoice, "overpaid", amount_cents=-invoice.balance_cents)
    audit.record(actor=actor, action="payment.recorded", partner=invoice.partner, target=invoice,
                 data={"amount_cents": amount_cents, "reference": reference, "rail": rail})
    _settle(invoice)
    return payment


@transaction.atomic
def issue_credit_note(*, invoice: Invoice, subtotal_cents: int, reason: str, description: str, actor: Actor,
                      today: dt.date | None = None) -> CreditNote:
    """Credit all or part of a finalized invoice (amount excl. VAT); refund through the rail what was overpaid."""
    today = today or periods.today()
    invoice = Invoice.objects.select_for_update(of=("self",)).select_related("partner", "subscription").get(pk=invoice.pk)
    if invoice.status == Invoice.Status.DRAFT or invoice.number is None:
        raise InvoiceNotOpen(_("Only a finalized invoice can be credited; delete nothing, edit the draft instead."))
    credited_subtotal = sum(invoice.credit_notes.values_list("subtotal_cents", flat=True))
    creditable = invoice.subtotal_cents - credited_subtotal
    if not isinstance(subtotal_cents, int) or subtotal_cents <= 0 or subtotal_cents > creditable:
        raise InvalidCredit(_("The credit must be between 0,01 € and %(max)s excl. VAT.")
                            % {"max": format_cents(creditable)}, fields={"subtotal_cents": [_("Out of range.")]})
    tax = vat_cents(subtotal_cents, invoice.vat_rate)
    if subtotal_cents == creditable:  # the last credit takes exactly what is left, so no cent is lost
        tax = invoice.vat_cents - sum(invoice.credit_notes.values_list("vat_cents", flat=True))
    note = CreditNote.objects.create(
        partner=invoice.partner, invoice=invoice, reason=reason, description=description[:300],
        number=numbering.next_number(series=numbering.CREDIT_NOTE_SERIES, year=today.year), issue_date=today,
        subtotal_cents=subtotal_cents, vat_cents=tax, total_cents=subtotal_cents + tax,
    )
    invoice.amount_credited_cents += note.total_cents
    invoice.save(update_fields=["amount_credited_cents"])
    history.record(invoice, "credited", number=note.number, amount_cents=note.total_cents)
    overpaid = -invoice.balance_cents
    if overpaid > 0:
        refund = min(overpaid, note.total_cents)
        # Money goes back the way it came: the rail of the latest payment, not today's setting.
        paid_through = invoice.payments.order_by("-received_on", "-pk").values_list("rail", flat=True).first()
        outcome = rails.rail_for(paid_through or invoice.subscription.rail).refund(note, refund)
        note.refunded_cents = refund
        note.save(update_fields=["refunded_cents"])
        history.record(invoice, "refund", amount_cents=refund, detail=outcome.parts)
    audit.record(actor=actor, action="credit_note.issued", partner=invoice.partner, target=note,
                 data={"invoice": invoice.number, "total_cents": note.total_cents, "reason": reason})
    events.publish(partner=invoice.partner, type="credit_note.issued", data={
        "id": note.public_id, "number": note.number, "invoice": invoice.number, "total_cents": note.total_cents})
    _settle(invoice)

    from . import tasks  # tasks import this module

    note_id = note.pk
    transaction.on_commit(lambda: tasks.render_credit_note.delay(note_id))
    return note


def cancel_invoice(*, invoice: Invoice, actor: Actor, description: str = "") -> CreditNote:
    """Cancel a finalized invoice: a credit note for everything not yet credited."""
    credited = sum(invoice.credit_notes.values_list("subtotal_cents", flat=True))
    return issue_credit_note(invoice=invoice, subtotal_cents=invoice.subtotal_cents - credited,
                             reason=CreditNote.Reason.CANCELLATION,
                             description=description or _("Cancellation of invoice %(number)s") % {"number": invoice.number},
                             actor=actor)


# --- Staff operations (added with subscriptions/admin.py) --------------------------------------


class NotLate(Conflict):
    code = "not_late"


@transaction.atomic
def extend_grace(*, subscription: Subscription, days: int, actor: Actor, today: dt.date | None = None) -> Subscription:
    """Give a late partner ``days`` more before suspension, counted from the current grace end
    (or from today when that is already past). A suspended subscription goes back to past due,
    so the partner is served again until the new date; the dunning run respects it."""
    today = today or periods.today()
    subscription = Subscription.objects.select_for_update(of=("self",)).select_related("partner", "plan").get(pk=subscription.pk)
    if subscription.status not in (Subscription.Status.PAST_DUE, Subscription.Status.SUSPENDED):
        raise NotLate(_("Only a past-due or suspended subscription has a grace period to extend."))
    previous = subscription.grace_until
    subscription.grace_until = max(previous or today, today) + dt.timedelta(days=days)
    subscription.status = Subscription.Status.PAST_DUE
    subscription.save(update_fields=["grace_until", "status", "updated_at"])
    audit.record(actor=actor, action="subscription.grace_extended", partner=subscription.partner, target=subscription,
                 data={"from": previous.isoformat() if previous else None, "to": subscription.grace_until.isoformat()})
    _publish_subscription(subscription)
    standing.refresh(partner=subscription.partner, today=today)
    return subscription


_PLAN_COPIED_FIELDS = [
    "name_fr", "name_en", "description_fr", "description_en", "price_cents", "included_orders", "team_seats",
    "api_rate_per_min", "wholesale_discount", "support_first_response_hours", "support_resolution_hours",
    "priority_weight",
]


@transaction.atomic
def create_plan_version(*, plan: Plan, actor: Actor) -> Plan:
    """Copy ``plan`` as the next version of its code, not offered yet, so staff set the new price
    and conditions before offering it. Subscribers keep the version they have; once the new
    version is offered, ``offered_plans`` shows it instead of the older ones."""
    latest = Plan.objects.select_for_update().filter(code=plan.code).order_by("-version").first()
    copy = Plan(code=plan.code, version=latest.version + 1, is_public=False,
                **{field: getattr(plan, field) for field in _PLAN_COPIED_FIELDS})
    copy.full_clean()
    copy.save()
    audit.record(actor=actor, action="plan.version_created", partner=None, target=copy,
                 data={"code": plan.code, "from_version": plan.version, "version": copy.version})
    return copy


@transaction.atomic
def archive_plan(*, plan: Plan, actor: Actor) -> Plan:
    """Stop offering a plan version. Its subscribers keep it; archiving twice changes nothing."""
    plan = Plan.objects.select_for_update().get(pk=plan.pk)
    if plan.archived_at is None:
        plan.archived_at = timezone.now()
        plan.save(update_fields=["archived_at"])
        audit.record(actor=actor, action="plan.archived", partner=None, target=plan,
                     data={"code": plan.code, "version": plan.version})
    return plan
