"""Gapless numbering under concurrency, on PostgreSQL with real threads."""

import datetime as dt
import threading

import pytest
from django.db import connection

from subscriptions import services
from subscriptions.models import Invoice, Subscription
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
    barrier = threading.Barrier(10)
    errors = []

    def worker(chunk):
        try:
            barrier.wait()
            for invoice in chunk:
                services.finalize_invoice(invoice=invoice, today=dt.date(2026, 5, 1))
        except Exception as exc:  # surfaced by the assertion below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(drafts[i::10],)) for i in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    numbers = sorted(Invoice.objects.values_list("number", flat=True))
    assert numbers == [f"BS-2026-{n:06d}" for n in range(1, 51)]
