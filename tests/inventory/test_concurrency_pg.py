"""Reservations under real concurrency, on PostgreSQL."""

import threading

import pytest
from django.db import connection

from inventory import services
from inventory.models import StockLevel
from inventory.services import LineRequest
from partners.audit import SYSTEM
from tests.factories import WarehouseFactory, make_product

pytestmark = pytest.mark.django_db(transaction=True)


def test_twenty_threads_reserving_the_last_ten_units(requires_postgres):
    warehouse = WarehouseFactory(code="lyon")
    product = make_product("LAST-10", stock={warehouse: 10})
    other = make_product("OTHER", stock={warehouse: 100})
    barrier = threading.Barrier(20)
    outcomes = []

    def client(index):
        try:
            barrier.wait()
            # Lines in both orders, so a lock-order bug would deadlock.
            lines = [LineRequest("LAST-10", 1), LineRequest("OTHER", 1)]
            services.reserve(lines=lines if index % 2 else lines[::-1], partner=None, actor=SYSTEM,
                             reference=("order", str(index)))
            outcomes.append("reserved")
        except services.InsufficientStock as exc:
            outcomes.append(exc.code)
        finally:
            connection.close()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(outcomes) == ["insufficient_stock"] * 10 + ["reserved"] * 10
    assert StockLevel.objects.get(product=product).reserved == 10
    assert StockLevel.objects.get(product=other).reserved == 10
