"""Non-trivial reads about orders: the hold queue, picking lists and processing delays.

Processing delays are measured per order from ``submitted_at`` to ``checked_at`` (checks
done) and to ``shipped_at``. Staff compare medians and 95th percentiles per plan and per
standing over the last day and week; partners see their own (``partner_delays``).

* The **standing** of an order is the one it was served under: the queue the dispatcher sent
  it to (``priority`` = active, ``standard`` = grace); an order never queued counts under
  its partner's standing now.
* The **plan** is the partner's current plan code (``""``: no subscription).
* **Targets** per plan code, from settings, ``"default"`` for plans not named:
  ``BIGSTOCK_CHECK_TARGET_MINUTES`` (submission → checks done, default 10 minutes) and
  ``BIGSTOCK_SHIP_TARGET_HOURS`` (submission → shipped, default 48 hours).
* Percentiles are ``percentile_cont`` (linear interpolation): computed by PostgreSQL when it
  is the database, else in Python over the newest ``MAX_ROWS_IN_PYTHON`` orders of the window.
"""

import datetime as dt
import math
from collections import defaultdict
from dataclasses import dataclass, field

from django.conf import settings
from django.db import connection
from django.db.models import (
    Aggregate,
    Case,
    CharField,
    Count,
    F,
    FloatField,
    Func,
    OuterRef,
    Prefetch,
    Q,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from subscriptions.models import Plan, Standing, Subscription

from .models import CheckResult, DispatchState, Order, OrderEvent, Reservation, Status

WINDOWS = {"day": dt.timedelta(days=1), "week": dt.timedelta(days=7)}
WINDOW_LABELS = {"day": _("Last 24 hours"), "week": _("Last 7 days")}
METRICS = {"checked": _("Submission → checks done"), "shipped": _("Submission → shipped")}
MAX_ROWS_IN_PYTHON = 50_000
DEFAULT_CHECK_TARGET_MINUTES = {"default": 10}
DEFAULT_SHIP_TARGET_HOURS = {"default": 48}
QUEUE_STANDING = {"priority": Standing.Level.ACTIVE, "standard": Standing.Level.GRACE}


# --- Targets ------------------------------------------------------------------------------------


def _target(setting: str, defaults: dict, plan_code: str) -> float:
    targets = {**defaults, **getattr(settings, setting, {})}
    return float(targets.get(plan_code or "default", targets["default"]))


def check_target(plan_code: str) -> dt.timedelta:
    """How soon after submission the checks of an order on this plan should be done."""
    return dt.timedelta(minutes=_target("BIGSTOCK_CHECK_TARGET_MINUTES", DEFAULT_CHECK_TARGET_MINUTES, plan_code))


def ship_target(plan_code: str) -> dt.timedelta:
    """How soon after submission an order on this plan should have shipped."""
    return dt.timedelta(hours=_target("BIGSTOCK_SHIP_TARGET_HOURS", DEFAULT_SHIP_TARGET_HOURS, plan_code))


# --- Per order ------------------------------------------------------------------------------------


def order_delays(order: Order) -> dict[str, float | None]:
    """Seconds from submission to checks done and to shipped (``None`` until it happens)."""
    return {
        "checked": (order.checked_at - order.submitted_at).total_seconds() if order.checked_at else None,
        "shipped": (order.shipped_at - order.submitted_at).total_seconds() if order.shipped_at else None,
    }


def _plan_code():
    current = Subscription.objects.filter(partner=OuterRef("partner_id")).exclude(status=Subscription.Status.CANCELED)
    return Coalesce(Subquery(current.values("plan__code")[:1]), Value(""), output_field=CharField())


def _standing():
    return Case(
        *[When(queue=queue, then=Value(level)) for queue, level in QUEUE_STANDING.items()],
        default=Coalesce(F("partner__standing__level"), Value(Standing.Level.ACTIVE)),
        output_field=CharField(),
    )


def _with_groups(queryset):
    return queryset.annotate(plan_code=_plan_code(), standing_level=_standing())


# --- Percentiles ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Stats:
    count: int = 0
    median_s: float | None = None
    p95_s: float | None = None


@dataclass
class DelayRow:
    key: str
    label: str
    checked: Stats = field(default_factory=Stats)
    shipped: Stats = field(default_factory=Stats)


def percentile(sorted_values: list[float], fraction: float) -> float | None:
    """``percentile_cont``: linear interpolation between the closest ranks."""
    if not sorted_values:
        return None
    position = fraction * (len(sorted_values) - 1)
    low, high = math.floor(position), math.ceil(position)
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (position - low)


class _Seconds(Func):
    """Seconds from the second datetime to the first (PostgreSQL); NULL when either is NULL."""

    template = "EXTRACT(EPOCH FROM (%(expressions)s))"
    arg_joiner = " - "
    output_field = FloatField()


class _PercentileCont(Aggregate):
    function = "percentile_cont"
    template = "%(function)s(%(fraction)s) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()

    def __init__(self, expression, *, fraction: float, **extra):
        super().__init__(expression, fraction=float(fraction), **extra)


def _stats_in_database(queryset, group: str) -> dict[str, dict[str, Stats]]:
    aggregates = {}
    for metric in METRICS:
        seconds = _Seconds(F(f"{metric}_at"), F("submitted_at"))
        aggregates[f"{metric}_n"] = Count(f"{metric}_at")
        aggregates[f"{metric}_p50"] = _PercentileCont(seconds, fraction=0.5)
        aggregates[f"{metric}_p95"] = _PercentileCont(seconds, fraction=0.95)
    rows = queryset.values(group).annotate(**aggregates).order_by(group)
    return {row[group]: {metric: Stats(row[f"{metric}_n"], row[f"{metric}_p50"], row[f"{metric}_p95"])
                         for metric in METRICS} for row in rows}


def _stats_in_python(queryset, group: str) -> dict[str, dict[str, Stats]]:
    durations: dict[str, dict[str, list[float]]] = defaultdict(lambda: {metric: [] for metric in METRICS})
    rows = queryset.order_by("-submitted_at").values_list(group, "submitted_at", "checked_at", "shipped_at")
    for key, submitted_at, checked_at, shipped_at in rows[:MAX_ROWS_IN_PYTHON]:
        group = durations[key]  # a group with nothing done yet still shows, with a count of 0
        for metric, done_at in (("checked", checked_at), ("shipped", shipped_at)):
            if done_at is not None:
                group[metric].append((done_at - submitted_at).total_seconds())
    stats = {}
    for key, by_metric in durations.items():
        stats[key] = {}
        for metric, values in by_metric.items():
            values.sort()
            stats[key][metric] = Stats(len(values), percentile(values, 0.5), percentile(values, 0.95))
    return stats


def _stats(queryset, group: str, *, in_database: bool | None = None) -> dict[str, dict[str, Stats]]:
    if in_database is None:
        in_database = connection.vendor == "postgresql"
    return (_stats_in_database if in_database else _stats_in_python)(queryset, group)


def delay_percentiles(*, since: dt.datetime, until: dt.datetime | None = None,
                      in_database: bool | None = None) -> dict[str, list[DelayRow]]:
    """Medians and 95th percentiles of orders submitted in [since, until), per plan and per standing."""
    orders = _with_groups(Order.objects.filter(submitted_at__gte=since, submitted_at__lt=until or timezone.now()))
    plans = _plan_names()
    levels = dict(Standing.Level.choices)
    by_plan = _stats(orders, "plan_code", in_database=in_database)
    by_standing = _stats(orders, "standing_level", in_database=in_database)
    return {
        "plan": [DelayRow(code, plans.get(code, code) or str(_("No plan")), **stats)
                 for code, stats in sorted(by_plan.items())],
        "standing": [DelayRow(level, str(label), **by_standing[level])
                     for level, label in levels.items() if level in by_standing],
    }


def _plan_names() -> dict[str, str]:
    """Plan code -> name (of its newest version), in the reader's language."""
    names: dict[str, str] = {}
    for plan in Plan.objects.order_by("code", "-version").only("code", "name_fr", "name_en"):
        names.setdefault(plan.code, plan.name)
    return names


# --- Breaches -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Breach:
    order: Order
    metric: str  # "checked" or "shipped"
    elapsed_s: float
    target_s: float
    done: bool  # False: still not done, already over its target


def breaching_orders(*, since: dt.datetime, now: dt.datetime | None = None, partner=None,
                     limit: int = 200) -> list[Breach]:
    """Orders submitted since ``since`` that took, or are taking, longer than their plan's target.
    Orders held for their partner's standing or on hold for the partner to act are not counted
    while they wait (that time is not BigStock's); once done, the whole delay counts."""
    now = now or timezone.now()
    check_min = min(check_target(code) for code in _target_codes("BIGSTOCK_CHECK_TARGET_MINUTES"))
    ship_min = min(ship_target(code) for code in _target_codes("BIGSTOCK_SHIP_TARGET_HOURS"))
    late_check = (Q(checked_at__isnull=False, checked_at__gt=F("submitted_at") + check_min)
                  | Q(checked_at__isnull=True, status__in=[Status.SUBMITTED, Status.CHECKING],
                      submitted_at__lt=now - check_min) & ~Q(dispatch_state=DispatchState.HELD))
    late_ship = (Q(shipped_at__isnull=False, shipped_at__gt=F("submitted_at") + ship_min)
                 | Q(shipped_at__isnull=True, status__in=[Status.READY, Status.PICKING, Status.PACKED],
                     submitted_at__lt=now - ship_min))
    candidates = Order.objects.filter(submitted_at__gte=since).filter(late_check | late_ship)
    if partner is not None:
        candidates = candidates.for_partner(partner)
    candidates = _with_groups(candidates).select_related("partner").order_by("submitted_at", "pk")
    breaches = []
    for order in candidates[:limit * 5]:
        for metric, done_at, target in (("checked", order.checked_at, check_target(order.plan_code)),
                                        ("shipped", order.shipped_at, ship_target(order.plan_code))):
            if metric == "checked" and done_at is None and (
                    order.status not in (Status.SUBMITTED, Status.CHECKING) or order.dispatch_state == DispatchState.HELD):
                continue
            if metric == "shipped" and done_at is None and order.status not in (Status.READY, Status.PICKING,
                                                                                  Status.PACKED):
                continue
            elapsed = ((done_at or now) - order.submitted_at).total_seconds()
            if elapsed > target.total_seconds():
                breaches.append(Breach(order, metric, elapsed, target.total_seconds(), done_at is not None))
    return breaches[:limit]


def _target_codes(setting: str) -> list[str]:
    return ["default", *getattr(settings, setting, {})]


# --- Dashboards -----------------------------------------------------------------------------------


def delays_dashboard(*, now: dt.datetime | None = None) -> dict:
    """The staff delays dashboard: per window, rows per plan and per standing, and the breaches."""
    now = now or timezone.now()
    windows = {}
    for key, length in WINDOWS.items():
        windows[key] = {"label": WINDOW_LABELS[key], **delay_percentiles(since=now - length, until=now)}
    return {
        "windows": windows,
        "breaches": breaching_orders(since=now - WINDOWS["week"], now=now),
        "targets": targets_per_plan(),
        "held_for_standing": Order.objects.filter(dispatch_state=DispatchState.HELD).count(),
    }


def targets_per_plan() -> list[tuple[str, dt.timedelta, dt.timedelta]]:
    """(plan code, check target, ship target): the default first, then every plan."""
    codes = dict.fromkeys(["default", *_plan_names(), *_target_codes("BIGSTOCK_CHECK_TARGET_MINUTES"),
                           *_target_codes("BIGSTOCK_SHIP_TARGET_HOURS")])
    return [(code, check_target(code), ship_target(code)) for code in codes]


def partner_delays(partner, *, now: dt.datetime | None = None) -> dict:
    """A partner's own figures: per window, ``Stats`` for checks done and shipped; the breaches of
    the last week; its plan's targets."""
    now = now or timezone.now()
    orders = Order.objects.for_partner(partner).annotate(everyone=Value("", output_field=CharField()))
    windows = {}
    for key, length in WINDOWS.items():
        stats = _stats(orders.filter(submitted_at__gte=now - length, submitted_at__lt=now), "everyone").get("", {})
        windows[key] = {"label": WINDOW_LABELS[key], "checked": stats.get("checked", Stats()),
                        "shipped": stats.get("shipped", Stats())}
    plan_code = _current_plan_code(partner)
    return {
        "windows": windows,
        "breaches": breaching_orders(since=now - WINDOWS["week"], now=now, partner=partner),
        "check_target": check_target(plan_code),
        "ship_target": ship_target(plan_code),
    }


def _current_plan_code(partner) -> str:
    return (Subscription.objects.filter(partner=partner).exclude(status=Subscription.Status.CANCELED)
            .values_list("plan__code", flat=True).first() or "")


# --- Hold queue and picking ---------------------------------------------------------------------


def hold_queue():
    """Orders on hold, oldest hold first, each with ``blocking``: the failed blocking checks of its
    latest run, and ``held_since``."""
    held_since = (OrderEvent.objects.filter(order=OuterRef("pk"), to_status=Status.ON_HOLD)
                  .order_by("-created_at").values("created_at")[:1])
    failed = CheckResult.objects.filter(passed=False, severity=CheckResult.Severity.BLOCK)
    return (Order.objects.filter(status=Status.ON_HOLD).select_related("partner")
            .annotate(held_since=Subquery(held_since))
            .prefetch_related(Prefetch("check_results", queryset=failed, to_attr="failed_checks"))
            .order_by(F("held_since").asc(nulls_first=True), "pk"))


def blocking_checks(order: Order) -> list[CheckResult]:
    """The failed blocking checks of the order's latest run (from ``hold_queue``'s prefetch)."""
    failed = getattr(order, "failed_checks", None)
    if failed is None:
        failed = list(order.check_results.filter(passed=False, severity=CheckResult.Severity.BLOCK))
    latest = max((result.run for result in failed), default=0)
    return [result for result in failed if result.run == latest]


@dataclass
class PickLine:
    sku: str
    name: str
    quantity: int


@dataclass
class PickOrder:
    order: Order
    lines: list[PickLine] = field(default_factory=list)


@dataclass
class WarehousePicking:
    code: str
    name: str
    orders: list[PickOrder] = field(default_factory=list)
    totals: dict[str, int] = field(default_factory=dict)  # SKU -> units, for picking by shelf

    @property
    def ready_count(self) -> int:
        return sum(1 for pick in self.orders if pick.order.status == Status.READY)


PICKABLE = (Status.READY, Status.PICKING)


def picking_lists(*, warehouse_code: str | None = None) -> list[WarehousePicking]:
    """Per warehouse, the ready and picking orders with their reserved lines, oldest first."""
    from inventory.models import Warehouse

    reservations = (Reservation.objects.filter(state=Reservation.State.HELD, order__status__in=PICKABLE)
                    .select_related("order", "order__partner", "line", "line__product")
                    .order_by("warehouse_code", "order__submitted_at", "order_id", "line__position", "pk"))
    if warehouse_code:
        reservations = reservations.filter(warehouse_code=warehouse_code)
    names = dict(Warehouse.objects.values_list("code", "name"))
    warehouses: dict[str, WarehousePicking] = {}
    for reservation in reservations:
        code = reservation.warehouse_code
        picking = warehouses.setdefault(code, WarehousePicking(code, names.get(code, code)))
        if not picking.orders or picking.orders[-1].order.pk != reservation.order_id:
            picking.orders.append(PickOrder(reservation.order))
        lines = picking.orders[-1].lines
        if lines and lines[-1].sku == reservation.line.sku:
            lines[-1].quantity += reservation.quantity
        else:
            lines.append(PickLine(reservation.line.sku, reservation.line.product.name, reservation.quantity))
        picking.totals[reservation.line.sku] = picking.totals.get(reservation.line.sku, 0) + reservation.quantity
    for picking in warehouses.values():
        picking.totals = dict(sorted(picking.totals.items()))
    return list(warehouses.values())


def held_for_standing_reason(order: Order) -> str:
    """Why an order waits before its checks: its partner's standing (``DispatchState.HELD``)."""
    if order.dispatch_state != DispatchState.HELD:
        return ""
    return Standing.objects.filter(partner_id=order.partner_id).values_list("reason", flat=True).first() or ""
