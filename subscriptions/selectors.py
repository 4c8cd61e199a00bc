"""Reads for the billing pages, the billing API and the staff dashboard. Never writes."""

import datetime as dt
from dataclasses import dataclass

from django.db.models import Count, F, QuerySet, Sum, Value
from django.db.models.functions import Coalesce

from bigstock.money import prorate_cents, vat_cents
from partners.models import Partner

from . import periods, vat
from .models import CouponRedemption, CreditNote, Invoice, Plan, Standing, Subscription

# Subscriptions that are billed every month: served, or late but within grace.
BILLED_STATUSES = (Subscription.Status.ACTIVE, Subscription.Status.PAST_DUE)


# --- A partner's documents ---------------------------------------------------------------------


def partner_invoices(partner: Partner) -> QuerySet[Invoice]:
    """What a partner sees: finalized invoices, newest first. A draft is not a document yet."""
    return (Invoice.objects.for_partner(partner).exclude(status=Invoice.Status.DRAFT)
            .select_related("subscription").order_by("-issue_date", "-number"))


def partner_credit_notes(partner: Partner) -> QuerySet[CreditNote]:
    return CreditNote.objects.for_partner(partner).select_related("invoice").order_by("-issue_date", "-number")


# --- The next invoice ----------------------------------------------------------------------------


@dataclass(frozen=True)
class NextInvoice:
    """What the next monthly invoice will say, as far as it is known today."""

    issue_on: dt.date
    plan: Plan
    discount_cents: int
    subtotal_cents: int
    vat_cents: int
    total_cents: int


def next_invoice(*, subscription: Subscription) -> NextInvoice | None:
    """The invoice issued at the end of the current period: the scheduled plan if a downgrade
    is pending, minus an offer still running, plus VAT for the partner's current regime.
    None when the subscription ends with this period."""
    if subscription.cancel_at_period_end or subscription.status == Subscription.Status.CANCELED:
        return None
    plan = subscription.scheduled_plan or subscription.plan
    redemption = CouponRedemption.objects.select_related("coupon").filter(subscription=subscription).first()
    discount = offer_discount_cents(redemption, plan.price_cents) or 0
    subtotal = plan.price_cents - discount
    partner = subscription.partner
    regime = vat.regime_for(country=str(partner.country), vat_number=partner.vat_number)
    tax = vat_cents(subtotal, regime.rate)
    return NextInvoice(subscription.current_period_end, plan, discount, subtotal, tax, subtotal + tax)


def offer_discount_cents(redemption: CouponRedemption | None, base_cents: int) -> int | None:
    """What an offer takes off one monthly invoice of ``base_cents`` excl. VAT, as
    ``services._discount_line`` bills it and ``next_invoice`` announces it; None when no offer
    applies (none redeemed, used up, or nothing to discount)."""
    if redemption is None or redemption.invoices_left == 0 or base_cents <= 0:
        return None
    coupon = redemption.coupon
    if coupon.percent_off is not None:
        return prorate_cents(base_cents, int(coupon.percent_off * 100), 10000)
    return min(coupon.amount_off_cents, base_cents)


# --- The staff dashboard -------------------------------------------------------------------------


def mrr_cents() -> int:
    """Monthly recurring revenue, excl. VAT: the plan prices of every billed subscription
    (active or past due; suspended, incomplete and canceled ones bring nothing in)."""
    total = Subscription.objects.filter(status__in=BILLED_STATUSES).aggregate(total=Sum("plan__price_cents"))
    return total["total"] or 0


def partners_by_standing() -> list[tuple[str, str, int]]:
    """(level, label, number of partners) for every level, in the order of ``Standing.Level``.
    A partner never evaluated counts as active, as ``standing.level_for`` reads it."""
    counts = dict(
        Partner.objects.annotate(level=Coalesce("standing__level", Value(Standing.Level.ACTIVE.value)))
        .values_list("level").annotate(count=Count("pk")).values_list("level", "count")
    )
    return [(level.value, level.label, counts.get(level.value, 0)) for level in Standing.Level]


def overdue_cents(*, today: dt.date) -> int:
    """What partners owe on open invoices past their due date."""
    total = Invoice.objects.filter(status=Invoice.Status.OPEN, due_date__lt=today).aggregate(
        total=Sum(F("total_cents") - F("amount_paid_cents") - F("amount_credited_cents")))
    return total["total"] or 0


def invoices_issued(*, start: dt.date, end: dt.date) -> dict[str, int]:
    """Invoices issued from ``start`` to ``end`` (exclusive): how many, and their total incl. VAT."""
    totals = Invoice.objects.exclude(status=Invoice.Status.DRAFT).filter(
        issue_date__gte=start, issue_date__lt=end).aggregate(count=Count("pk"), total=Sum("total_cents"))
    return {"count": totals["count"], "total_cents": totals["total"] or 0}


@dataclass(frozen=True)
class Dashboard:
    mrr_cents: int
    billed_subscriptions: int
    standings: list[tuple[str, str, int]]
    overdue_cents: int
    overdue_invoices: int
    month_start: dt.date
    month_invoices: dict[str, int]


def dashboard(*, today: dt.date | None = None) -> Dashboard:
    today = today or periods.today()
    start, end = periods.month_of(today)
    return Dashboard(
        mrr_cents=mrr_cents(),
        billed_subscriptions=Subscription.objects.filter(status__in=BILLED_STATUSES).count(),
        standings=partners_by_standing(),
        overdue_cents=overdue_cents(today=today),
        overdue_invoices=Invoice.objects.filter(status=Invoice.Status.OPEN, due_date__lt=today).count(),
        month_start=start,
        month_invoices=invoices_issued(start=start, end=end),
    )
