"""Order volumes per partner and month, reported to subscriptions (plan fit, upgrade suggestions)."""

import datetime as dt

from django.db.models import Count
from django.db.models.functions import TruncMonth

from partners.models import Partner
from subscriptions import growth, periods

from .models import Order, Status


def report_volumes(*, today: dt.date | None = None) -> int:
    """Count this month's and last month's orders (not cancelled) per partner, record them, and
    let subscriptions suggest a better plan to partners who outgrew theirs. Idempotent."""
    today = today or periods.today()
    last_month = periods.month_start(periods.month_start(today) - dt.timedelta(days=1))
    rows = (
        Order.objects.exclude(status=Status.CANCELLED).filter(submitted_at__date__gte=last_month)
        .annotate(month=TruncMonth("submitted_at")).values("partner_id", "month").annotate(n=Count("pk"))
    )
    partners = {partner.pk: partner for partner in Partner.objects.filter(pk__in={row["partner_id"] for row in rows})}
    for row in rows:
        growth.record_usage(partner=partners[row["partner_id"]], month=row["month"].date()
                            if isinstance(row["month"], dt.datetime) else row["month"], orders=row["n"])
    for partner in partners.values():
        growth.check_growth(partner=partner, today=today)
    return len(rows)
