"""The dispatcher with a real Celery worker on the configured broker (the embedded filesystem
broker, or Redis when REDIS_URL is set): held orders released on payment, fairness under a
burst, and a broker that is down during submission.

The worker runs in a thread with its own database connection, so it must see and write the
test's rows while the test reads: PostgreSQL, or SQLite in a file (the settings name one per
run). SQLite's in-memory test database (shared cache) fails concurrent access with "database
table is locked", so these tests skip if the SQLite test database is made in-memory again.
"""

import contextlib
import datetime as dt
import time

import pytest
from django.db import connection
from django.utils import timezone

from bigstock.celery import app as celery_app
from orders import tasks
from orders.models import DispatchState, Order, Status
from partners.audit import SYSTEM
from subscriptions import dunning
from subscriptions import services as subscriptions
from subscriptions.models import Invoice, Standing
from tests.factories import MembershipFactory, PlanFactory, WarehouseFactory, make_product, submit

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.celery_worker]


def reset_producers():
    """kombu keeps producer pools per app: the next send builds one from the current options."""
    celery_app._pool = None
    celery_app.amqp._producer_pool = None


@pytest.fixture
def own_embedded_broker(tmp_path):
    """The embedded broker's folders are this test's own: two runs in one checkout (var/test)
    would otherwise purge and consume each other's messages. Redis is left as configured."""
    options = celery_app.conf.broker_transport_options
    if not celery_app.conf.broker_url.startswith("filesystem://"):
        yield
        return
    folders = {"data_folder_in": tmp_path / "queue", "control_folder": tmp_path / "control"}
    for folder in folders.values():
        folder.mkdir()
    celery_app.conf.broker_transport_options = {**options, **{name: str(path) for name, path in folders.items()},
                                                "data_folder_out": str(folders["data_folder_in"])}
    reset_producers()
    try:
        yield
    finally:
        celery_app.conf.broker_transport_options = options
        reset_producers()


@pytest.fixture
def database_shared_with_threads(own_embedded_broker):
    if connection.vendor == "sqlite" and connection.is_in_memory_db():
        pytest.skip("a worker thread cannot share SQLite's in-memory test database: use PostgreSQL "
                    "(DATABASE_URL) or a file-based SQLite test database (DATABASES TEST NAME)")
    celery_app.control.purge()  # nothing left by an interrupted run reaches this test's worker


@pytest.fixture
def worker(database_shared_with_threads, celery_worker):
    """The real worker; whatever it did not consume is purged so no later test inherits it."""
    yield celery_worker
    celery_app.control.purge()


@pytest.fixture
def stock():
    make_product("TEA-1", stock={WarehouseFactory(code="lyon"): 10_000})


def wait_for(predicate, *, timeout_s=60.0, what="the condition"):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")


def fetch(order) -> Order:
    return Order.objects.get(pk=order.pk)


def suspended_partner():
    """A partner whose first invoice went unpaid past the grace period, through dunning."""
    partner = MembershipFactory().partner
    start = timezone.localdate() - dt.timedelta(days=60)
    subscription = subscriptions.subscribe(partner=partner, plan=PlanFactory(), actor=SYSTEM, today=start)
    invoice = Invoice.objects.get(subscription=subscription)
    dunning.process_overdue_invoice(invoice_id=invoice.pk, today=invoice.due_date + dt.timedelta(days=1))
    subscription.refresh_from_db()
    dunning.process_overdue_invoice(invoice_id=invoice.pk, today=subscription.grace_until + dt.timedelta(days=1))
    assert Standing.objects.get(partner=partner).level == Standing.Level.SUSPENDED
    return partner, invoice


def test_a_suspended_partners_order_waits_and_is_processed_once_the_invoice_is_paid(worker, stock):
    partner, invoice = suspended_partner()
    order = submit(partner, ("TEA-1", 2))
    wait_for(lambda: fetch(order).dispatch_state == DispatchState.HELD, what="the order to be held")
    time.sleep(0.5)  # held, not merely slow: nothing moves while the invoice is unpaid
    order = fetch(order)
    assert (order.status, order.dispatch_state, order.check_results.count()) == (Status.SUBMITTED, "held", 0)

    subscriptions.record_payment(invoice=invoice, amount_cents=invoice.total_cents,
                                 received_on=timezone.localdate(), reference="VIR-2026-0042", actor=SYSTEM)

    wait_for(lambda: fetch(order).status == Status.READY, what="the order to be checked after payment")
    order = fetch(order)
    assert order.dispatch_state == DispatchState.DONE and order.queue == "priority"
    assert order.checked_at > invoice.payments.get().created_at


def test_another_partners_order_is_checked_before_a_burst_ends(worker, stock, settings):
    settings.BIGSTOCK_ORDER_QUEUE_DEPTH = 4
    burst_size = 300
    a, b = MembershipFactory().partner, MembershipFactory().partner
    from django.db import transaction

    with transaction.atomic():  # A's burst lands at once (an import), then B sends one order
        burst = [submit(a, ("TEA-1", 1), reference=f"A-{i}") for i in range(burst_size)]
    single = submit(b, ("TEA-1", 1), reference="B-1")

    wait_for(lambda: fetch(single).checked_at is not None, timeout_s=120, what="B's order to be checked")
    checked_at = fetch(single).checked_at
    a_checked_before_b = Order.objects.filter(partner=a, checked_at__lt=checked_at).count()
    assert a_checked_before_b <= 2 * settings.BIGSTOCK_ORDER_QUEUE_DEPTH, a_checked_before_b
    assert Order.objects.filter(pk__in=[o.pk for o in burst], checked_at=None).exists()


@contextlib.contextmanager
def broker_unreachable():
    """Producers (the web process, and the worker's own sends) get a closed port; the worker keeps
    its consumer, as when a broker drops for a while and comes back."""
    celery_app.conf.broker_write_url = "redis://127.0.0.1:1/0"
    reset_producers()
    try:
        yield
    finally:
        celery_app.conf.broker_write_url = None
        reset_producers()


def test_an_order_submitted_while_the_broker_is_down_is_accepted_and_processed_when_it_returns(worker, stock):
    partner = MembershipFactory().partner
    with broker_unreachable():
        order = submit(partner, ("TEA-1", 1), reference="WHILE-DOWN")  # accepted: the database is the record
        time.sleep(0.5)
        assert fetch(order).status == Status.SUBMITTED and fetch(order).dispatch_state == DispatchState.WAITING
    assert fetch(order).dispatch_state == DispatchState.WAITING  # nothing was sent meanwhile

    tasks.sweep_orders.delay()  # what beat sends every 15 s, now that the broker is back

    wait_for(lambda: fetch(order).status == Status.READY, what="the order to be processed after the broker returned")
    assert fetch(order).dispatch_state == DispatchState.DONE
