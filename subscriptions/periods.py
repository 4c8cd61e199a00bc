"""Billing periods: calendar months in Europe/Paris, as dates with an exclusive end."""

import datetime as dt

from django.utils import timezone


def today() -> dt.date:
    """The business date now, in Europe/Paris."""
    return timezone.localdate()


def month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)


def next_month_start(day: dt.date) -> dt.date:
    return (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1)


def month_of(day: dt.date) -> tuple[dt.date, dt.date]:
    """The calendar month containing ``day``: (first day, first day of next month)."""
    return month_start(day), next_month_start(day)


def days(start: dt.date, end: dt.date) -> int:
    return (end - start).days
