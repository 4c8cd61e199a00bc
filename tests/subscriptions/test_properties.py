"""Arithmetic properties of invoices and proration, checked with Hypothesis."""

import datetime as dt
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from bigstock.money import prorate_cents, vat_cents
from subscriptions import periods
from subscriptions.services import LineDraft, _proration_lines


class _Plan:
    def __init__(self, price_cents):
        self.price_cents = price_cents
        self.name_fr = "P"


class _Subscription:
    def __init__(self, plan, period_end):
        self.plan = plan
        self.current_period_end = period_end


prices = st.integers(min_value=0, max_value=10_000_000)
days_in_months = st.dates(min_value=dt.date(2024, 1, 1), max_value=dt.date(2035, 12, 31))


@given(old=prices, new=prices, day=days_in_months)
@settings(max_examples=300)
def test_proration_credit_plus_debit_is_exactly_the_difference_for_the_remaining_days(old, new, day):
    start, end = periods.month_of(day)
    lines = _proration_lines(_Subscription(_Plan(old), end), _Plan(new), day)
    credit, debit = (line.unit_price_cents for line in lines)
    remaining, month = periods.days(day, end), periods.days(start, end)
    assert credit + debit == prorate_cents(new - old, remaining, month)
    assert abs(debit - prorate_cents(new, remaining, month)) <= 1  # rounded once each side
    assert -credit == prorate_cents(old, remaining, month)


@given(amounts=st.lists(st.integers(min_value=-1_000_000, max_value=1_000_000), min_size=1, max_size=20),
       rate=st.sampled_from([Decimal("0.20"), Decimal("0.10"), Decimal("0.055"), Decimal("0")]))
def test_lines_sum_to_totals_and_vat_is_rounded_once_at_the_total(amounts, rate):
    lines = [LineDraft("x", amount) for amount in amounts]
    subtotal = sum(line.amount_cents for line in lines)
    tax = vat_cents(subtotal, rate)
    assert subtotal + tax == sum(amounts) + tax
    exact = Decimal(subtotal) * rate
    assert abs(Decimal(tax) - exact) <= Decimal("0.5")


@given(price=prices, day=days_in_months)
def test_the_days_of_a_month_add_up_to_the_monthly_price_within_a_cent(price, day):
    start, end = periods.month_of(day)
    month = periods.days(start, end)
    split = periods.days(start, day)
    assert abs(prorate_cents(price, split, month) + prorate_cents(price, month - split, month) - price) <= 1
