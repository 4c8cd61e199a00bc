"""Gapless numbering under concurrency, on PostgreSQL with real threads."""

import datetime as dt

import pytest

from subscriptions import services
from subscriptions.models import Invoice, Subscription
from tests.concurrency import run_together
from tests.factories import MembershipFactory, PlanFactory

pytestmark = pytest.mark.django_db(transaction=True)


def test_fifty_parallel_finalizations_get_fifty_consecutive_numbers(requires_postgres):
    plan = PlanFactory()
    drafts = []
    for _ in range(50):
        partner = MembershipFactory().partner
        subscription = Subscription.objects.create(
            partner=partner, plan=plan, status="active", started_on=dt.date(2026, 5, 1),
            current_period_start=dt.date(2026, 5, 1), current_period_end=dt.date(2026, 6, 1))
        drafts.append(services._create_draft(subscription=subscription, kind="recurring",
                                             period_start=dt.date(2026, 5, 1), period_end=dt.date(2026, 6, 1),
                                             lines=[services.LineDraft("x", 1000)]))
    errors = []

    def worker(chunk):
        try:
            for invoice in chunk:
                services.finalize_invoice(invoice=invoice, today=dt.date(2026, 5, 1))
        except Exception as exc:  # surfaced by the assertion below
            errors.append(exc)

    run_together(worker, [drafts[i::10] for i in range(10)])
    assert errors == []
    numbers = sorted(Invoice.objects.values_list("number", flat=True))
    assert numbers == [f"BS-2026-{n:06d}" for n in range(1, 51)]
