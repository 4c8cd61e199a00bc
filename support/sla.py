"""Business time on the Europe/Paris calendar: the clock SLA targets are counted in.

The calendar is ``BIGSTOCK_SUPPORT_BUSINESS_HOURS`` (one or more ranges a day) on
``BIGSTOCK_SUPPORT_BUSINESS_DAYS``, minus French public holidays (when
``BIGSTOCK_SUPPORT_FRENCH_HOLIDAYS``) and the dates of ``BIGSTOCK_SUPPORT_HOLIDAYS``.

Each day's open windows are built from Paris wall-clock times and converted to UTC, and all
arithmetic is done in UTC: an hour counts as an hour on the day the clocks change.
"""

import datetime as dt
import functools
from collections.abc import Iterator
from zoneinfo import ZoneInfo

from django.conf import settings

PARIS = ZoneInfo("Europe/Paris")
# No calendar leaves a whole year without an open hour; a misconfiguration must not loop forever.
_MAX_DAYS = 400


def easter_sunday(year: int) -> dt.date:
    """Gregorian Easter (the anonymous Gregorian algorithm, Meeus/Jones/Butcher)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = b // 4, b % 4
    g = (8 * b + 13) // 25
    h = (19 * a + b - d - g + 15) % 30
    i, k = c // 4, c % 4
    l = (32 + 2 * e + 2 * i - h - k) % 7  # noqa: E741 - the algorithm's own names
    m = (a + 11 * h + 19 * l) // 433
    month = (h + l - 7 * m + 90) // 25
    day = (h + l - 7 * m + 33 * month + 19) % 32
    return dt.date(year, month, day)


@functools.lru_cache(maxsize=64)
def french_public_holidays(year: int) -> frozenset[dt.date]:
    """The eleven French public holidays (metropolitan France, without Alsace-Moselle's two)."""
    easter = easter_sunday(year)
    fixed = [(1, 1), (5, 1), (5, 8), (7, 14), (8, 15), (11, 1), (11, 11), (12, 25)]
    movable = [easter + dt.timedelta(days=1), easter + dt.timedelta(days=39), easter + dt.timedelta(days=50)]
    return frozenset([dt.date(year, month, day) for month, day in fixed] + movable)


def is_business_day(day: dt.date) -> bool:
    if day.isoweekday() not in settings.BIGSTOCK_SUPPORT_BUSINESS_DAYS:
        return False
    if day in settings.BIGSTOCK_SUPPORT_HOLIDAYS:
        return False
    return not (settings.BIGSTOCK_SUPPORT_FRENCH_HOLIDAYS and day in french_public_holidays(day.year))


def _at(day: dt.date, minutes: int) -> dt.datetime:
    """``minutes`` after midnight on ``day`` in Paris, as UTC (``24:00`` is the next midnight)."""
    day = day + dt.timedelta(days=minutes // (24 * 60))
    minutes %= 24 * 60
    local = dt.datetime.combine(day, dt.time(minutes // 60, minutes % 60), tzinfo=PARIS)
    return local.astimezone(dt.UTC)


def _windows(day: dt.date) -> list[tuple[dt.datetime, dt.datetime]]:
    if not is_business_day(day):
        return []
    return [(_at(day, start), _at(day, end)) for start, end in settings.BIGSTOCK_SUPPORT_BUSINESS_HOURS]


def _windows_from(moment: dt.datetime) -> Iterator[tuple[dt.datetime, dt.datetime]]:
    """Open windows that end after ``moment``, in order (``moment`` clipped in)."""
    day = moment.astimezone(PARIS).date()
    closed_days = 0
    while closed_days < _MAX_DAYS:
        windows = [(max(start, moment), end) for start, end in _windows(day) if end > moment]
        closed_days = 0 if windows else closed_days + 1
        yield from windows
        day += dt.timedelta(days=1)
    raise RuntimeError("the support calendar has no business hours in a whole year")


def _utc(moment: dt.datetime) -> dt.datetime:
    if moment.tzinfo is None:
        raise ValueError("business time needs an aware datetime")
    return moment.astimezone(dt.UTC)


def add_business_seconds(start: dt.datetime, seconds: float) -> dt.datetime:
    """The moment ``seconds`` of business time after ``start`` (UTC)."""
    start = _utc(start)
    remaining = dt.timedelta(seconds=seconds)
    if remaining <= dt.timedelta(0):
        return start
    for window_start, window_end in _windows_from(start):
        if window_start + remaining <= window_end:
            return window_start + remaining
        remaining -= window_end - window_start
    raise AssertionError("unreachable")  # _windows_from raises first


def add_business_hours(start: dt.datetime, hours: float) -> dt.datetime:
    return add_business_seconds(start, hours * 3600)


def business_seconds_between(start: dt.datetime, end: dt.datetime) -> int:
    """Business seconds from ``start`` to ``end``; negative when ``end`` is before ``start``."""
    start, end = _utc(start), _utc(end)
    if end < start:
        return -business_seconds_between(end, start)
    total = dt.timedelta(0)
    for window_start, window_end in _windows_from(start):
        if window_start >= end:
            break
        total += min(window_end, end) - window_start
    return int(total.total_seconds())
