"""Reservations under real concurrency, on PostgreSQL."""

import pytest

from inventory import services
from inventory.models import StockLevel
from inventory.services import LineRequest
from partners.audit import SYSTEM
from tests.concurrency import run_together
from tests.factories import WarehouseFactory, make_product

pytestmark = pytest.mark.django_db(transaction=True)


def test_twenty_threads_reserving_the_last_ten_units(requires_postgres):
    warehouse = WarehouseFactory(code="lyon")
    product = make_product("LAST-10", stock={warehouse: 10})
    other = make_product("OTHER", stock={warehouse: 100})
    outcomes = []

    def client(index):
        try:
            # Lines in both orders, so a lock-order bug would deadlock.
            lines = [LineRequest("LAST-10", 1), LineRequest("OTHER", 1)]
            services.reserve(lines=lines if index % 2 else lines[::-1], partner=None, actor=SYSTEM,
                             reference=("order", str(index)))
            outcomes.append("reserved")
        except services.InsufficientStock as exc:
            outcomes.append(exc.code)

    run_together(client, range(20), timeout=60)
    assert sorted(outcomes) == ["insufficient_stock"] * 10 + ["reserved"] * 10
    assert StockLevel.objects.get(product=product).reserved == 10
    assert StockLevel.objects.get(product=other).reserved == 10


def test_twenty_threads_removing_one_unit_each_when_ten_can_go(requires_postgres):
    """Adjustments run as one statement without an explicit transaction: each re-checks the numbers
    it finds once the one before it has committed, so none takes stock that is reserved."""
    from django.core.management import call_command

    from inventory.models import ProductAvailability, StockMovement

    warehouse = WarehouseFactory(code="lyon")
    product = make_product("LAST-UNITS", stock={warehouse: 15})
    services.reserve(lines=[LineRequest("LAST-UNITS", 5)], partner=None, actor=SYSTEM, reference=("order", "o"))
    outcomes = []

    def client(_index):
        try:
            services.adjust(product=product, warehouse=warehouse, delta=-1, reason="Casse", actor=SYSTEM)
            outcomes.append("removed")
        except services.StockBelowZero as exc:
            outcomes.append(exc.code)

    run_together(client, range(20), timeout=60)
    assert sorted(outcomes) == ["removed"] * 10 + ["stock_below_zero"] * 10
    level = StockLevel.objects.get(product=product)
    assert (level.on_hand, level.reserved) == (5, 5)
    removals = StockMovement.objects.filter(level=level, kind="adjustment").order_by("id")
    assert [movement.on_hand_after for movement in removals] == list(range(14, 4, -1))
    feed = ProductAvailability.objects.get(product=product)
    assert (feed.on_hand, feed.reserved, feed.available, feed.change_seq) == (5, 5, 0, removals.last().pk)
    call_command("verify_stock")
