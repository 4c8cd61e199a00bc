"""Row locks on PostgreSQL: an order's transition locks the order's row only, not its partner's."""

import pytest
from django.db import connections, transaction

from orders import services
from tests.factories import MembershipFactory, WarehouseFactory, make_product, submit

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]


def test_a_locked_order_leaves_its_partners_row_free_for_the_partners_other_work(requires_postgres):
    partner = MembershipFactory().partner
    lyon = WarehouseFactory(code="lyon")
    make_product("TEA-1", stock={lyon: 10})
    order = submit(partner, ("TEA-1", 1))

    with transaction.atomic():
        services._lock(order)  # as every transition does, until its transaction ends
        other = connections.create_connection("default")  # another worker, another transaction
        try:
            with other.cursor() as cursor:
                cursor.execute("SET lock_timeout = '2s'")
                cursor.execute("BEGIN")
                # NOWAIT: an error at once if the order's lock had taken the partner's row with it.
                cursor.execute("SELECT id FROM partners_partner WHERE id = %s FOR UPDATE NOWAIT", [partner.pk])
                assert cursor.fetchone() == (partner.pk,)
                cursor.execute("ROLLBACK")
        finally:
            other.close()
