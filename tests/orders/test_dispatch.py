"""The dispatcher's decisions, without a worker: which queue, who is held, who gets the next slot,
and what happens when the broker is unreachable. (tests/orders/test_dispatch_worker.py runs the
same scenarios with a real worker on the configured broker.)"""

import datetime as dt
from unittest import mock

import pytest
from django.utils import timezone
from kombu.exceptions import OperationalError

from orders import dispatch, services, tasks
from orders.models import DispatchState, Order, Status
from partners.audit import SYSTEM
from subscriptions.models import Standing
from tests.factories import MembershipFactory, PlanFactory, WarehouseFactory, make_product, submit

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def stock():
    make_product("TEA-1", stock={WarehouseFactory(code="lyon"): 10_000})


def partner_with(level=Standing.Level.ACTIVE, weight=1):
    """A partner whose stored standing is ``level`` (and a subscription whose plan weighs ``weight``)."""
    from subscriptions.models import Subscription

    partner = MembershipFactory().partner
    today = timezone.localdate()
    Subscription.objects.create(partner=partner, plan=PlanFactory(priority_weight=weight), status="active",
                                started_on=today, current_period_start=today,
                                current_period_end=today + dt.timedelta(days=30))
    Standing.objects.update_or_create(partner=partner, defaults={"level": level, "reason": "test"})
    return partner


def burst(partner, count):
    return [submit(partner, ("TEA-1", 1)) for _ in range(count)]


def states(orders):
    return [Order.objects.get(pk=o.pk).dispatch_state for o in orders]


def finish(orders):
    """Workers took these orders off the queue."""
    Order.objects.filter(pk__in=[o.pk for o in orders]).update(dispatch_state=DispatchState.DONE)


def test_active_goes_to_priority_grace_to_standard_inactive_and_suspended_are_held():
    orders = {level: submit(partner_with(level), ("TEA-1", 1)) for level in Standing.Level.values}
    assert dispatch.dispatch_pending() == {"priority": 1, "standard": 1}
    placed = {level: Order.objects.values_list("dispatch_state", "queue", "status").get(pk=order.pk)
              for level, order in orders.items()}
    assert placed == {
        "active": ("queued", "priority", "submitted"),
        "grace": ("queued", "standard", "submitted"),
        "inactive": ("held", "", "submitted"),
        "suspended": ("held", "", "submitted"),
    }


def test_a_queue_never_holds_more_than_its_depth(settings):
    settings.BIGSTOCK_ORDER_QUEUE_DEPTH = 5
    orders = burst(partner_with(), 12)
    dispatch.dispatch_pending()
    dispatch.dispatch_pending()
    assert states(orders).count(DispatchState.QUEUED) == 5
    finish(orders[:2])
    assert dispatch.dispatch_pending() == {"priority": 2}
    assert [o.pk for o in Order.objects.filter(dispatch_state="queued").order_by("pk")] == [o.pk for o in orders[2:7]]


def test_a_freed_slot_goes_to_the_partner_without_orders_in_flight_not_to_the_burst(settings):
    settings.BIGSTOCK_ORDER_QUEUE_DEPTH = 5
    a_orders = burst(partner_with(), 50)
    dispatch.dispatch_pending()
    b_order = submit(partner_with(), ("TEA-1", 1))
    assert dispatch.dispatch_pending() == {}  # the queue is full of A's orders
    finish(a_orders[:1])
    dispatch.dispatch_pending()
    assert Order.objects.get(pk=b_order.pk).dispatch_state == DispatchState.QUEUED
    assert states(a_orders).count(DispatchState.QUEUED) == 4


def test_slots_are_shared_by_plan_weight_between_two_backlogs(settings):
    settings.BIGSTOCK_ORDER_QUEUE_DEPTH = 9
    heavy, light = partner_with(weight=2), partner_with(weight=1)
    burst(heavy, 20)
    burst(light, 20)
    dispatch.dispatch_pending()
    queued = dict(Order.objects.filter(dispatch_state="queued").values_list("partner_id").annotate(
        n=dispatch.Count("pk")).values_list("partner_id", "n"))
    assert queued == {heavy.pk: 6, light.pk: 3}


def test_fair_pick_takes_each_partners_oldest_first_and_breaks_ties_by_oldest_partner():
    chosen = dispatch.fair_pick({1: [10, 11, 12], 2: [20, 21], 3: [30]}, in_flight={1: 1}, weights={1: 1, 2: 1, 3: 1},
                                capacity=5)
    assert chosen == [20, 30, 10, 21, 11]


def test_held_orders_wait_for_a_worker_again_when_the_standing_recovers(django_capture_on_commit_callbacks):
    from subscriptions.signals import standing_changed

    partner = partner_with(Standing.Level.SUSPENDED)
    order = submit(partner, ("TEA-1", 1))
    dispatch.dispatch_pending()
    assert states([order]) == [DispatchState.HELD]
    Standing.objects.filter(partner=partner).update(level=Standing.Level.ACTIVE)
    with django_capture_on_commit_callbacks(execute=True), mock.patch.object(dispatch, "kick") as kick:
        standing_changed.send(sender=Standing, partner_id=partner.pk, previous="suspended", level="active")
    assert states([order]) == [DispatchState.WAITING] and kick.called
    dispatch.dispatch_pending()
    assert states([order]) == [DispatchState.QUEUED]


def test_an_order_queued_before_the_partner_was_suspended_is_held_by_the_worker_not_checked():
    partner = partner_with()
    order = submit(partner, ("TEA-1", 1))
    dispatch.dispatch_pending()
    Standing.objects.filter(partner=partner).update(level=Standing.Level.SUSPENDED)
    assert tasks.process_order(order.pk) == Status.SUBMITTED
    order.refresh_from_db()
    assert (order.status, order.dispatch_state, order.check_results.count()) == ("submitted", "held", 0)


def test_an_order_held_by_the_standing_check_is_checked_again_when_the_standing_recovers():
    partner = partner_with()
    order = submit(partner, ("TEA-1", 1))
    Standing.objects.filter(partner=partner).update(level=Standing.Level.SUSPENDED)
    services.process_order(order_id=order.pk)  # the standing changed between the gate and the checks
    order.refresh_from_db()
    assert order.status == Status.ON_HOLD
    Standing.objects.filter(partner=partner).update(level=Standing.Level.ACTIVE)
    dispatch.release_held(partner_id=partner.pk)
    order.refresh_from_db()
    assert order.status == Status.READY
    assert order.check_results.filter(run=2, passed=False).count() == 0


def test_the_sweep_releases_held_orders_whose_standing_recovered_without_a_signal():
    partner = partner_with(Standing.Level.INACTIVE)
    order = submit(partner, ("TEA-1", 1))
    dispatch.dispatch_pending()
    Standing.objects.filter(partner=partner).update(level=Standing.Level.GRACE)
    dispatch.sweep()
    order.refresh_from_db()
    assert (order.dispatch_state, order.queue) == ("queued", "standard")


def test_the_sweep_sends_again_orders_queued_long_ago(django_capture_on_commit_callbacks):
    order = submit(partner_with(), ("TEA-1", 1))
    dispatch.dispatch_pending()
    Order.objects.filter(pk=order.pk).update(dispatched_at=timezone.now() - dt.timedelta(minutes=10))
    with mock.patch.object(tasks.process_order, "apply_async") as send, \
            django_capture_on_commit_callbacks(execute=True):
        assert dispatch.sweep() == 1
    send.assert_called_once_with((order.pk,), queue="priority")


def broker_down(*args, **kwargs):
    raise OperationalError("Error 111 connecting to 127.0.0.1:1. Connection refused.")


def test_kick_swallows_an_unreachable_broker_and_the_next_kick_tries_again():
    with mock.patch.object(tasks.dispatch_orders, "delay", side_effect=broker_down) as delay:
        dispatch.kick()
        dispatch.kick()
    assert delay.call_count == 2


def test_orders_that_could_not_be_sent_wait_again_for_the_sweep(django_capture_on_commit_callbacks):
    orders = burst(partner_with(), 3)
    with mock.patch.object(tasks.process_order, "apply_async", side_effect=broker_down), \
            django_capture_on_commit_callbacks(execute=True):
        assert dispatch.dispatch_pending() == {"priority": 3}
    assert states(orders) == [DispatchState.WAITING] * 3
    assert dispatch.dispatch_pending() == {"priority": 3}


def test_a_cancelled_order_is_never_dispatched():
    order = submit(partner_with(), ("TEA-1", 1))
    services.cancel_order(order=order, actor=SYSTEM, reason="test")
    assert dispatch.dispatch_pending() == {}
    assert states([order]) == [DispatchState.DONE]


def test_dispatch_reads_a_bounded_number_of_rows_whatever_the_backlog(settings, django_assert_max_num_queries):
    settings.BIGSTOCK_ORDER_QUEUE_DEPTH = 5
    for _ in range(3):
        burst(partner_with(), 30)
    with django_assert_max_num_queries(12):
        dispatch.dispatch_pending()
