"""The monthly run as beat and the billing workers run it: batches of subscriptions per task."""

import datetime as dt
import threading
from decimal import Decimal

import pytest
from django.db import connection, transaction

from bigstock.models import WebhookDelivery
from partners.audit import SYSTEM
from subscriptions import periods, selectors, services, tasks
from subscriptions.models import Coupon, Invoice, Plan, Subscription
from tests.factories import MembershipFactory, PlanFactory, WebhookEndpointFactory

MAY = dt.date(2026, 5, 1)


@pytest.fixture
def may_first(monkeypatch):
    """The run starts on 1 May: April's periods are due."""
    monkeypatch.setattr(periods, "today", lambda: MAY)


def subscribed(plan, count):
    return [services.subscribe(partner=MembershipFactory().partner, plan=plan, actor=SYSTEM,
                               today=dt.date(2026, 4, 10)) for _ in range(count)]


@pytest.mark.django_db
def test_the_run_queues_batches_and_a_second_run_bills_nothing_more(may_first, monkeypatch):
    monkeypatch.setattr(tasks, "INVOICING_BATCH", 2)
    subscribed(PlanFactory(price_cents=9900), 5)
    assert tasks.start_invoicing_run() == 5  # three batches: 2 + 2 + 1
    assert tasks.start_invoicing_run() == 0
    may = Invoice.objects.filter(period_start=MAY)
    assert may.count() == 5 and set(may.values_list("subtotal_cents", flat=True)) == {9900}
    assert sorted(Invoice.objects.values_list("number", flat=True)) == [f"BS-2026-{n:06d}" for n in range(1, 11)]


@pytest.mark.django_db
def test_a_batch_redelivered_after_a_crash_bills_each_subscription_once(may_first):
    subscriptions = subscribed(PlanFactory(), 4)
    batch = [[subscription.pk, MAY.isoformat()] for subscription in subscriptions]
    tasks.invoice_subscriptions(batch[:2])  # the worker died after these two; the broker redelivers the batch
    tasks.invoice_subscriptions(batch)
    assert Invoice.objects.filter(period_start=MAY).count() == 4
    assert Invoice.objects.exclude(number=None).count() == 8


@pytest.mark.django_db
def test_a_failing_subscription_fails_the_batch_after_the_others_are_billed(may_first):
    first, last = subscribed(PlanFactory(), 2)
    missing = Subscription.objects.order_by("-pk").first().pk + 1
    batch = [[first.pk, MAY.isoformat()], [missing, MAY.isoformat()], [last.pk, MAY.isoformat()]]
    with pytest.raises(Subscription.DoesNotExist):
        tasks.invoice_subscriptions(batch)
    assert set(Invoice.objects.filter(period_start=MAY).values_list("subscription", flat=True)) == {first.pk, last.pk}


@pytest.mark.django_db
def test_the_next_invoice_announced_is_the_one_the_run_bills_with_an_offer_running(may_first):
    Coupon.objects.create(code="BIENVENUE", name="Bienvenue", percent_off=Decimal("33.33"), duration_months=2)
    subscription = services.subscribe(partner=MembershipFactory().partner, plan=PlanFactory(price_cents=9900),
                                      actor=SYSTEM, coupon_code="BIENVENUE", today=dt.date(2026, 3, 31))
    subscription.refresh_from_db()
    announced = selectors.next_invoice(subscription=subscription)
    assert announced.discount_cents == 3300  # 33.33 % of 99.00, half-up
    billed = services.invoice_next_period(subscription_id=subscription.pk, period_start=dt.date(2026, 4, 1))
    assert (billed.subtotal_cents, billed.vat_cents, billed.total_cents) == (
        announced.subtotal_cents, announced.vat_cents, announced.total_cents)
    subscription.refresh_from_db()
    assert selectors.next_invoice(subscription=subscription).discount_cents == 0  # the offer is used up


@pytest.mark.django_db
def test_the_invoice_finalized_by_the_run_reaches_the_endpoints_that_want_it(may_first):
    subscription = subscribed(PlanFactory(), 1)[0]
    wants = WebhookEndpointFactory(partner=subscription.partner, event_types=["invoice.finalized"])
    WebhookEndpointFactory(partner=subscription.partner, event_types=["order.shipped"])
    WebhookEndpointFactory(partner=subscription.partner, enabled=False)
    invoice = services.invoice_next_period(subscription_id=subscription.pk, period_start=MAY)
    delivery = WebhookDelivery.objects.get(event__type="invoice.finalized")
    assert delivery.endpoint == wants and delivery.event.payload["number"] == invoice.number


@pytest.mark.django_db
def test_invoicing_a_subscription_takes_the_same_few_queries_with_or_without_an_offer(
        may_first, django_assert_max_num_queries):
    Coupon.objects.create(code="MOINS10", name="-10 €", amount_off_cents=1000, duration_months=3)
    plan = PlanFactory()
    plain = subscribed(plan, 1)[0]
    offered = services.subscribe(partner=MembershipFactory().partner, plan=plan, actor=SYSTEM,
                                 coupon_code="MOINS10", today=dt.date(2026, 4, 10))
    with django_assert_max_num_queries(11):
        services.invoice_next_period(subscription_id=plain.pk, period_start=MAY)
    with django_assert_max_num_queries(12):  # the offer's count of invoices left
        invoice = services.invoice_next_period(subscription_id=offered.pk, period_start=MAY)
    assert invoice.subtotal_cents == plan.price_cents - 1000


@pytest.mark.django_db(transaction=True)
def test_invoicing_does_not_wait_for_a_lock_on_the_plan_all_subscribers_share(requires_postgres):
    plan = PlanFactory()
    subscription = Subscription.objects.create(
        partner=MembershipFactory().partner, plan=plan, status="active", started_on=dt.date(2026, 4, 1),
        current_period_start=dt.date(2026, 4, 1), current_period_end=MAY)
    billed = threading.Event()

    def bill():
        try:
            services.invoice_next_period(subscription_id=subscription.pk, period_start=MAY, today=MAY)
            billed.set()
        finally:
            connection.close()

    with transaction.atomic():
        Plan.objects.select_for_update().get(pk=plan.pk)  # staff archiving the plan, say, right now
        worker = threading.Thread(target=bill)
        worker.start()
        assert billed.wait(timeout=10), "invoicing waited for the plan's row lock"
    worker.join()
    assert Invoice.objects.filter(subscription=subscription, period_start=MAY).exclude(number=None).exists()
