"""Support figures for staff: per plan, how fast the first answer comes and how many promises
were broken this week."""

import datetime as dt
import statistics
from dataclasses import dataclass

from django.db.models import Count
from django.utils import timezone
from django.utils.translation import gettext as _

from subscriptions.models import Plan

from . import sla
from .models import Status, Ticket, breached_q

FIGURES_WINDOW = dt.timedelta(days=30)


@dataclass
class PlanFigures:
    code: str
    name: str
    first_response_target_hours: int | None
    open_tickets: int = 0
    opened_recently: int = 0
    median_first_response_hours: float | None = None
    first_response_breaches_this_week: int = 0
    resolution_breaches_this_week: int = 0
    median_width: int = 0  # for the bar: % of the largest of median and target across plans

    @property
    def breaches_this_week(self) -> int:
        return self.first_response_breaches_this_week + self.resolution_breaches_this_week


def week_start(now: dt.datetime) -> dt.datetime:
    """Monday 00:00, Paris time, of ``now``'s week."""
    local = now.astimezone(sla.PARIS)
    monday = local.date() - dt.timedelta(days=local.weekday())
    return dt.datetime.combine(monday, dt.time(0), tzinfo=sla.PARIS)


def _by_plan(queryset) -> dict[str | None, int]:
    return {row["plan__code"]: row["n"] for row in queryset.values("plan__code").annotate(n=Count("id"))}


def figures_by_plan(*, now: dt.datetime | None = None) -> list[PlanFigures]:
    """One row per plan (tickets keep the plan of the day they were opened), plus "no plan"."""
    now = now or timezone.now()
    since, monday = now - FIGURES_WINDOW, week_start(now)
    tickets = Ticket.objects.filter(merged_into=None)
    rows: dict[str | None, PlanFigures] = {}
    codes = set(tickets.exclude(plan=None).values_list("plan__code", flat=True).distinct())
    for plan in Plan.objects.filter(code__in=codes).order_by("code", "-version"):  # the newest version names it
        rows.setdefault(plan.code, PlanFigures(code=plan.code, name=plan.name,
                                               first_response_target_hours=plan.support_first_response_hours))
    rows[None] = PlanFigures(code="", name=_("No plan"), first_response_target_hours=None)

    counts = {
        "open_tickets": _by_plan(tickets.exclude(status__in=[Status.RESOLVED, Status.CLOSED])),
        "opened_recently": _by_plan(tickets.filter(created_at__gte=since)),
        "first_response_breaches_this_week": _by_plan(
            tickets.filter(first_response_due_at__gte=monday, first_response_due_at__lt=now)
            .filter(breached_q("first_response_due_at", "first_response_at", now))),
        "resolution_breaches_this_week": _by_plan(
            tickets.filter(resolution_due_at__gte=monday, resolution_due_at__lt=now)
            .filter(breached_q("resolution_due_at", "resolved_at", now))),
    }
    for field, per_plan in counts.items():
        for code, count in per_plan.items():
            setattr(rows[code], field, count)
    durations: dict[str | None, list[int]] = {}
    for code, seconds in (tickets.filter(first_response_at__gte=since, first_response_business_s__isnull=False)
                          .values_list("plan__code", "first_response_business_s")):
        durations.setdefault(code, []).append(seconds)
    for code, values in durations.items():
        rows[code].median_first_response_hours = round(statistics.median(values) / 3600, 1)

    largest = max([max(row.median_first_response_hours or 0, row.first_response_target_hours or 0)
                   for row in rows.values()] or [0]) or 1
    for row in rows.values():
        row.median_width = round((row.median_first_response_hours or 0) * 100 / largest)
    shown = [row for code, row in rows.items() if code is not None]
    if rows[None].opened_recently or rows[None].open_tickets or None in durations:
        shown.append(rows[None])
    return shown
