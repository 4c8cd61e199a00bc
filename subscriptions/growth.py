"""Better conditions as partners grow: usage per month, the plan that fits it, and an upgrade
suggestion (portal and email) when a partner's orders exceed its plan's included volume two
months running. Never an automatic charge: the included volume is a soft limit."""

import datetime as dt

from django.db import IntegrityError, transaction

from partners.models import Partner

from . import emails, periods, services
from .models import MonthlyUsage, Plan, UpgradeSuggestion


def record_usage(*, partner: Partner, month: dt.date, orders: int) -> MonthlyUsage:
    usage, _created = MonthlyUsage.objects.update_or_create(
        partner=partner, month=periods.month_start(month), defaults={"orders": orders})
    return usage


def plan_that_fits(*, orders_per_month: int) -> Plan | None:
    """The cheapest offered plan whose included volume covers ``orders_per_month``."""
    fitting = [plan for plan in services.offered_plans() if plan.included_orders >= orders_per_month]
    return fitting[0] if fitting else (services.offered_plans() or [None])[-1]


def last_month_orders(*, partner: Partner, today: dt.date | None = None) -> int | None:
    previous = periods.month_start(periods.month_start(today or periods.today()) - dt.timedelta(days=1))
    return MonthlyUsage.objects.filter(partner=partner, month=previous).values_list("orders", flat=True).first()


def check_growth(*, partner: Partner, today: dt.date | None = None) -> UpgradeSuggestion | None:
    """After a month ends: suggest the plan that fits if the last two months both went over."""
    subscription = services.current_subscription(partner)
    if subscription is None:
        return None
    this_month = periods.month_start(today or periods.today())
    last = periods.month_start(this_month - dt.timedelta(days=1))
    before = periods.month_start(last - dt.timedelta(days=1))
    usage = dict(MonthlyUsage.objects.filter(partner=partner, month__in=[before, last]).values_list("month", "orders"))
    included = subscription.plan.included_orders
    if len(usage) < 2 or min(usage.values()) <= included:
        return None
    plan = plan_that_fits(orders_per_month=max(usage.values()))
    if plan is None or plan.price_cents <= subscription.plan.price_cents:
        return None
    try:
        with transaction.atomic():
            suggestion = UpgradeSuggestion.objects.create(
                partner=partner, from_plan=subscription.plan, suggested_plan=plan, month=last,
                volumes=[usage[before], usage[last]])
    except IntegrityError:  # already suggested for this month
        return None
    transaction.on_commit(lambda: emails.send_upgrade_suggestion(suggestion_id=suggestion.pk))
    return suggestion


def current_suggestion(*, partner: Partner) -> UpgradeSuggestion | None:
    """The latest suggestion still worth showing: not dismissed, and the partner not yet on that plan."""
    suggestion = (UpgradeSuggestion.objects.for_partner(partner).filter(dismissed_at=None)
                  .select_related("from_plan", "suggested_plan").order_by("-month").first())
    subscription = services.current_subscription(partner)
    if suggestion is None or subscription is None or subscription.plan.price_cents >= suggestion.suggested_plan.price_cents:
        return None
    return suggestion


def price_difference_cents(suggestion: UpgradeSuggestion) -> int:
    return suggestion.suggested_plan.price_cents - suggestion.from_plan.price_cents


