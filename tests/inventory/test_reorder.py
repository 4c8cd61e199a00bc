import datetime as dt

import pytest
from django.core import mail

from inventory import receiving, reorder, services, tasks
from inventory.models import StockLevel
from inventory.services import LineRequest
from partners.audit import SYSTEM
from tests.factories import MembershipFactory, UserFactory, WarehouseFactory, make_product

pytestmark = pytest.mark.django_db


@pytest.fixture
def lyon():
    return WarehouseFactory(code="lyon")


def level(product, warehouse, *, point, target):
    stock = StockLevel.objects.get(product=product, warehouse=warehouse)
    return reorder.set_reorder_levels(level=stock, reorder_point=point, reorder_target=target)


def sell(partner, sku, quantity, *, ship=True, reference="o-1"):
    allocations, _ = services.reserve(lines=[LineRequest(sku, quantity)], partner=partner, actor=SYSTEM,
                                      reference=("order", reference))
    if ship:
        services.ship(allocations=allocations, partner=partner, actor=SYSTEM, reference=("order", reference))
    return allocations


@pytest.mark.parametrize(("available", "target", "outflow", "incoming", "suggested"), [
    (5, 40, 10, 0, 35),  # up to the target
    (5, 40, 90, 0, 85),  # a month of demand is more than the target
    (5, 40, 10, 30, 5),  # less what is already on its way
    (5, 40, 10, 50, 0),  # never negative
])
def test_the_suggested_quantity_formula(available, target, outflow, incoming, suggested):
    assert reorder.suggested_quantity(available=available, target=target, outflow=outflow,
                                      incoming=incoming) == suggested


def test_levels_below_their_point_are_listed_with_demand_and_incoming(lyon):
    partner = MembershipFactory().partner
    mug = make_product("MUG", stock={lyon: 60})
    make_product("PLENTY", stock={lyon: 500})
    level(mug, lyon, point=30, target=40)
    level(make_product("PLENTY-2", stock={lyon: 500}), lyon, point=30, target=40)
    sell(partner, "MUG", 50, reference="a")  # shipped: 10 left
    cancelled = sell(partner, "MUG", 4, ship=False, reference="b")
    services.release(allocations=cancelled, actor=SYSTEM, reference=("order", "b"))  # not demand
    receiving.create_receipt(supplier="Terre & Grès", warehouse=lyon, expected_on=dt.date.today(), actor=SYSTEM,
                             lines=[receiving.LineIn(mug, 20)])

    (line,) = reorder.levels_to_reorder()

    assert (line.product.sku, line.available, line.outflow, line.incoming) == ("MUG", 10, 50, 20)
    assert line.suggested == 50 - 10 - 20


def test_the_daily_task_emails_stock_staff_the_list(lyon):
    UserFactory(email="stock@bigstock.example", is_staff=True, is_superuser=True)
    UserFactory(email="sales@bigstock.example", is_staff=True)  # staff without stock rights
    mug = make_product("MUG", stock={lyon: 3})
    level(mug, lyon, point=10, target=25)

    assert tasks.send_reorder_list.delay().get() == 1

    (email,) = mail.outbox
    assert email.to == ["stock@bigstock.example"]
    assert "1 stock level below its reorder point" in email.subject
    assert "MUG" in email.body and "order 22" in email.body
    assert "/admin/inventory/stocklevel/reorder/" in email.body


def test_no_email_when_nothing_is_low(lyon):
    level(make_product("MUG", stock={lyon: 30}), lyon, point=10, target=25)
    assert tasks.send_reorder_list.delay().get() == 0
    assert mail.outbox == []


def test_without_stock_staff_the_support_address_hears_about_it(lyon, settings):
    settings.BIGSTOCK_SUPPORT_EMAIL = "support@bigstock.example"
    level(make_product("MUG", stock={lyon: 3}), lyon, point=10, target=25)
    tasks.send_reorder_list.delay()
    assert mail.outbox[0].to == ["support@bigstock.example"]


def test_partners_see_low_stock_only_on_what_they_sold_recently(lyon, time_machine):
    seller, other = MembershipFactory().partner, MembershipFactory().partner
    mug = make_product("MUG", stock={lyon: 20})
    bowl = make_product("BOWL", stock={lyon: 20})
    level(mug, lyon, point=15, target=40)
    level(bowl, lyon, point=15, target=40)
    sell(seller, "MUG", 10)
    sell(other, "BOWL", 2, reference="other")

    assert reorder.low_stock_product_ids(partner=seller) == {mug.pk}  # bowl is low too, but not sold by seller
    assert reorder.low_stock_product_ids(partner=other) == set()  # bowl has 18 left, above its point

    time_machine.move_to(dt.datetime.now(tz=dt.UTC) + dt.timedelta(days=31))
    assert reorder.low_stock_product_ids(partner=seller) == set()


def test_the_target_cannot_be_below_the_point(lyon):
    stock = StockLevel.objects.get(product=make_product("MUG", stock={lyon: 3}), warehouse=lyon)
    with pytest.raises(services.DomainError, match="at least the reorder point"):
        reorder.set_reorder_levels(level=stock, reorder_point=10, reorder_target=5)
