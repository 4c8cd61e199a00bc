import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import transaction

from inventory import services
from inventory.models import ProductAvailability, StockLevel, StockMovement
from inventory.services import LineRequest
from partners.audit import SYSTEM, Actor
from tests.factories import MembershipFactory, UserFactory, WarehouseFactory, make_product

pytestmark = pytest.mark.django_db


@pytest.fixture
def lyon():
    return WarehouseFactory(code="lyon")


@pytest.fixture
def lille():
    return WarehouseFactory(code="lille")


def level(product, warehouse):
    return StockLevel.objects.get(product=product, warehouse=warehouse)


def test_every_operation_writes_its_movement_and_keeps_the_feed_in_step(lyon):
    product = make_product("MUG-1")
    services.receive(product=product, warehouse=lyon, quantity=20, actor=SYSTEM)
    services.adjust(product=product, warehouse=lyon, delta=-2, reason="Casse", actor=SYSTEM)
    allocations, _missing = services.reserve(lines=[LineRequest("MUG-1", 5)], partner=None, actor=SYSTEM,
                                             reference=("order", "ord_1"))
    services.release(allocations=[allocations[0].__class__("MUG-1", allocations[0].level_id, "lyon", 1)],
                     actor=SYSTEM, reference=("order", "ord_1"))
    services.ship(allocations=[allocations[0].__class__("MUG-1", allocations[0].level_id, "lyon", 4)],
                  actor=SYSTEM, reference=("order", "ord_1"))
    services.return_stock(product=product, warehouse=lyon, quantity=1, actor=SYSTEM)
    services.count(product=product, warehouse=lyon, counted=14, actor=SYSTEM)
    kinds = list(StockMovement.objects.order_by("id").values_list("kind", flat=True))
    assert kinds == ["receipt", "adjustment", "reservation", "release", "shipment", "return", "count"]
    stock = level(product, lyon)
    assert (stock.on_hand, stock.reserved) == (14, 0)
    feed = ProductAvailability.objects.get(sku="MUG-1")
    assert (feed.on_hand, feed.reserved, feed.available) == (14, 0, 14)
    assert feed.change_seq == StockMovement.objects.latest("id").pk
    call_command("verify_stock")


def test_each_movement_records_who_why_for_whom_and_what(lyon):
    """Receipts, adjustments and returns of one level take one statement on PostgreSQL, orders'
    changes another: each movement keeps its reason, actor, partner and reference whichever."""
    partner = MembershipFactory().partner
    staff = Actor(user=UserFactory(email="lea@bigstock.example", is_staff=True))
    product = make_product("MUG-9")
    services.receive(product=product, warehouse=lyon, quantity=10, actor=staff, reason="Livraison 4471",
                     reference=("receipt", "rcp_1"))
    services.adjust(product=product, warehouse=lyon, delta=-1, reason="Casse", actor=staff)
    services.reserve(lines=[LineRequest("MUG-9", 2)], partner=partner, actor=SYSTEM,
                     reference=("order", "ord_9"))
    services.return_stock(product=product, warehouse=lyon, quantity=1, actor=SYSTEM, partner=partner,
                          reference=("order", "ord_8"))
    rows = list(StockMovement.objects.order_by("id").values_list(
        "kind", "on_hand_delta", "reserved_delta", "on_hand_after", "reserved_after", "reason", "actor_label",
        "partner", "reference_type", "reference_id"))
    assert rows == [
        ("receipt", 10, 0, 10, 0, "Livraison 4471", "lea@bigstock.example (staff)", None, "receipt", "rcp_1"),
        ("adjustment", -1, 0, 9, 0, "Casse", "lea@bigstock.example (staff)", None, "", ""),
        ("reservation", 0, 2, 9, 2, "", SYSTEM.label, partner.pk, "order", "ord_9"),
        ("return", 1, 0, 10, 2, "", SYSTEM.label, partner.pk, "order", "ord_8"),
    ]
    assert all(movement.created_at is not None for movement in StockMovement.objects.all())
    call_command("verify_stock")


def test_verify_finds_a_planted_difference(lyon, capsys):
    product = make_product("MUG-2", stock={lyon: 10})
    StockLevel.objects.filter(product=product).update(on_hand=11)  # someone bypassed the services
    with pytest.raises(CommandError, match="2 difference"):  # the level, and the feed row built from it
        call_command("verify_stock")
    assert "MUG-2 @ lyon on hand: ledger says 10, found 11" in capsys.readouterr().out


def test_movements_are_append_only(lyon):
    make_product("MUG-3", stock={lyon: 1})
    movement = StockMovement.objects.get()
    movement.reason = "rewritten"
    with pytest.raises(ValueError, match="append-only"):
        movement.save()
    with pytest.raises(ValueError, match="append-only"):
        movement.delete()


def test_adjusting_below_what_is_reserved_is_refused_with_the_quantities(lyon):
    product = make_product("MUG-4", stock={lyon: 5})
    services.reserve(lines=[LineRequest("MUG-4", 3)], partner=None, actor=SYSTEM, reference=("order", "x"))
    with pytest.raises(services.StockBelowZero) as excinfo:
        services.adjust(product=product, warehouse=lyon, delta=-4, reason="Perte", actor=SYSTEM)
    assert "5 on hand, 3 reserved" in excinfo.value.message and "at most 2" in excinfo.value.message
    assert level(product, lyon).on_hand == 5
    assert StockMovement.objects.count() == 2


def test_reserving_more_than_available_lists_what_is_available_and_changes_nothing(lyon, lille):
    make_product("MUG-5", stock={lyon: 2, lille: 1})
    make_product("MUG-6", stock={lyon: 10})
    # reserve() joins its caller's transaction; a caller that goes on after a refusal uses a savepoint.
    with pytest.raises(services.InsufficientStock) as excinfo, transaction.atomic():
        services.reserve(lines=[LineRequest("MUG-5", 4), LineRequest("MUG-6", 1)], partner=None, actor=SYSTEM,
                         reference=("order", "x"))
    assert excinfo.value.details["lines"] == [{"sku": "MUG-5", "requested": 4, "available": 3}]
    assert sum(StockLevel.objects.values_list("reserved", flat=True)) == 0


def test_a_line_is_served_from_one_warehouse_when_possible_else_split(lyon, lille):
    make_product("MUG-7", stock={lyon: 3, lille: 5})
    allocations, _ = services.reserve(lines=[LineRequest("MUG-7", 4)], partner=None, actor=SYSTEM,
                                      reference=("order", "a"))
    assert [(a.warehouse_code, a.quantity) for a in allocations] == [("lille", 4)]
    allocations, _ = services.reserve(lines=[LineRequest("MUG-7", 3)], partner=None, actor=SYSTEM,
                                      reference=("order", "b"))
    assert [(a.warehouse_code, a.quantity) for a in allocations] == [("lyon", 3)]


def test_backorder_reserves_what_exists_and_reports_the_rest(lyon):
    make_product("MUG-8", stock={lyon: 2})
    allocations, missing = services.reserve(lines=[LineRequest("MUG-8", 5)], partner=None, actor=SYSTEM,
                                            reference=("order", "x"), allow_partial=True)
    assert sum(a.quantity for a in allocations) == 2 and missing == {"MUG-8": 3}


@pytest.mark.parametrize("quantity", [0, -1])
def test_zero_or_negative_quantities_are_refused(lyon, quantity):
    make_product("MUG-9", stock={lyon: 2})
    with pytest.raises(services.InvalidQuantity):
        services.reserve(lines=[LineRequest("MUG-9", quantity)], partner=None, actor=SYSTEM, reference=("o", "x"))


def test_an_unknown_sku_is_named(lyon):
    with pytest.raises(services.UnknownSku, match="NOPE"):
        services.reserve(lines=[LineRequest("NOPE", 1)], partner=None, actor=SYSTEM, reference=("o", "x"))


def test_partner_price_applies_the_plan_discount():
    from decimal import Decimal

    from subscriptions import services as billing
    from tests.factories import PlanFactory

    partner = MembershipFactory().partner
    product = make_product("MUG-10", wholesale_price_cents=1999)
    assert services.price_for(partner=partner, product=product) == 1999
    billing.subscribe(partner=partner, plan=PlanFactory(wholesale_discount=Decimal("0.030")), actor=SYSTEM)
    assert services.price_for(partner=partner, product=product) == 1939  # 1999 x 0.97 = 1939.03
