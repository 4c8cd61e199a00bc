"""Business time on the Paris calendar: nights, weekends, holidays and the clock changes."""

import datetime as dt

import pytest

from support import sla
from tests.support.conftest import paris

HOUR = 3600


def test_easter_and_the_movable_holidays_match_the_calendar():
    assert sla.easter_sunday(2026) == dt.date(2026, 4, 5)
    assert sla.easter_sunday(2027) == dt.date(2027, 3, 28)
    assert sla.easter_sunday(2030) == dt.date(2030, 4, 21)
    holidays_2026 = sla.french_public_holidays(2026)
    assert {dt.date(2026, 4, 6), dt.date(2026, 5, 14), dt.date(2026, 5, 25)} <= holidays_2026  # Monday, Ascension, Whit
    assert {dt.date(2026, 7, 14), dt.date(2026, 11, 11), dt.date(2026, 12, 25)} <= holidays_2026
    assert len(holidays_2026) == 11


def test_hours_within_one_business_day():
    assert sla.add_business_hours(paris(2026, 3, 3, 10, 0), 4) == paris(2026, 3, 3, 14, 0)


def test_a_night_is_skipped():
    # Tuesday 16:00 + 4 business hours: 2 h on Tuesday, 2 h from Wednesday 09:00.
    assert sla.add_business_hours(paris(2026, 3, 3, 16, 0), 4) == paris(2026, 3, 4, 11, 0)


def test_a_ticket_opened_at_night_starts_counting_at_opening_time():
    assert sla.add_business_hours(paris(2026, 3, 3, 22, 30), 1) == paris(2026, 3, 4, 10, 0)
    assert sla.add_business_hours(paris(2026, 3, 4, 6, 0), 1) == paris(2026, 3, 4, 10, 0)


def test_a_weekend_is_skipped():
    # Friday 17:00 + 3 h: 1 h on Friday, 2 h on Monday.
    assert sla.add_business_hours(paris(2026, 3, 6, 17, 0), 3) == paris(2026, 3, 9, 11, 0)
    assert sla.add_business_hours(paris(2026, 3, 7, 12, 0), 1) == paris(2026, 3, 9, 10, 0)  # opened on Saturday


def test_french_public_holidays_are_skipped():
    # Wednesday 13 May 2026 17:00 + 2 h: Ascension (Thursday 14) is skipped, so Friday 15 at 10:00.
    assert sla.add_business_hours(paris(2026, 5, 13, 17, 0), 2) == paris(2026, 5, 15, 10, 0)
    # Easter weekend: Friday 3 April 17:00 + 2 h -> Tuesday 7 April 10:00 (Monday 6 is Easter Monday).
    assert sla.add_business_hours(paris(2026, 4, 3, 17, 0), 2) == paris(2026, 4, 7, 10, 0)


def test_configured_holidays_are_skipped_and_french_ones_can_be_turned_off(settings):
    settings.BIGSTOCK_SUPPORT_HOLIDAYS = [dt.date(2026, 12, 24)]
    assert sla.add_business_hours(paris(2026, 12, 23, 17, 0), 2) == paris(2026, 12, 28, 10, 0)
    settings.BIGSTOCK_SUPPORT_FRENCH_HOLIDAYS = False
    assert sla.add_business_hours(paris(2026, 12, 23, 17, 0), 2) == paris(2026, 12, 25, 10, 0)


def test_across_the_spring_clock_change_business_hours_stay_wall_clock_hours():
    # Friday 27 March 2026 17:00 CET (16:00 UTC) + 4 h -> Monday 30 March 12:00 CEST (10:00 UTC).
    due = sla.add_business_hours(paris(2026, 3, 27, 17, 0), 4)
    assert due == paris(2026, 3, 30, 12, 0)
    assert due.utcoffset() == dt.timedelta(0) and due.hour == 10  # stored in UTC


def test_a_round_the_clock_calendar_counts_the_23_hour_day_of_the_spring_change(settings):
    settings.BIGSTOCK_SUPPORT_BUSINESS_HOURS = [(0, 24 * 60)]
    settings.BIGSTOCK_SUPPORT_BUSINESS_DAYS = [1, 2, 3, 4, 5, 6, 7]
    # 24 real hours from Saturday 28 March 12:00 CET: Sunday 29 March has 23 hours, so it is 13:00 CEST.
    assert sla.add_business_hours(paris(2026, 3, 28, 12, 0), 24) == paris(2026, 3, 29, 13, 0)
    # ... and 25 in autumn: from Saturday 24 October 2026 12:00 CEST it is Sunday 11:00 CET.
    assert sla.add_business_hours(paris(2026, 10, 24, 12, 0), 24) == paris(2026, 10, 25, 11, 0)
    assert sla.business_seconds_between(paris(2026, 3, 29, 0, 0), paris(2026, 3, 30, 0, 0)) == 23 * HOUR


def test_several_ranges_a_day_skip_lunch(settings):
    settings.BIGSTOCK_SUPPORT_BUSINESS_HOURS = [(9 * 60, 12 * 60 + 30), (13 * 60 + 30, 18 * 60)]
    assert sla.add_business_hours(paris(2026, 3, 3, 12, 0), 1) == paris(2026, 3, 3, 14, 0)
    assert sla.business_seconds_between(paris(2026, 3, 3, 9, 0), paris(2026, 3, 3, 18, 0)) == 8 * HOUR


def test_business_seconds_between_counts_only_open_hours():
    assert sla.business_seconds_between(paris(2026, 3, 6, 17, 0), paris(2026, 3, 9, 11, 0)) == 3 * HOUR
    assert sla.business_seconds_between(paris(2026, 3, 9, 11, 0), paris(2026, 3, 6, 17, 0)) == -3 * HOUR
    assert sla.business_seconds_between(paris(2026, 3, 7, 8, 0), paris(2026, 3, 8, 20, 0)) == 0


@pytest.mark.parametrize("hours", [0.5, 1, 7, 9, 24, 72, 200])
def test_adding_then_measuring_gives_back_the_same_business_time(hours):
    start = paris(2026, 3, 27, 16, 20)
    assert sla.business_seconds_between(start, sla.add_business_hours(start, hours)) == hours * HOUR


def test_naive_datetimes_are_refused():
    with pytest.raises(ValueError, match="aware"):
        sla.add_business_hours(dt.datetime(2026, 3, 3, 10, 0), 1)


def test_a_calendar_without_open_hours_fails_loudly(settings):
    settings.BIGSTOCK_SUPPORT_BUSINESS_DAYS = [6]
    settings.BIGSTOCK_SUPPORT_HOLIDAYS = [dt.date(2026, 3, 7) + dt.timedelta(days=7 * week) for week in range(60)]
    with pytest.raises(RuntimeError, match="no business hours"):
        sla.add_business_hours(paris(2026, 3, 3, 10, 0), 1)
