import pytest

from bigstock.models import PartnerEvent
from inventory.models import StockLevel, StockMovement
from orders import services, states
from orders.models import DispatchState, Order, Status
from partners.audit import SYSTEM, Actor
from partners.models import AuditLogEntry, Partner
from tests.factories import MembershipFactory, UserFactory, WarehouseFactory, make_product, submit

pytestmark = pytest.mark.django_db


@pytest.fixture
def partner():
    return MembershipFactory().partner


@pytest.fixture
def stock():
    lyon = WarehouseFactory(code="lyon")
    make_product("TEA-1", stock={lyon: 10}, wholesale_price_cents=450)
    make_product("CUP-1", stock={lyon: 5}, wholesale_price_cents=1200)
    return lyon


def process(order):
    return services.process_order(order_id=order.pk)


def test_submission_reserves_stock_freezes_prices_and_publishes_order_created(partner, stock):
    order = submit(partner, ("TEA-1", 3), ("CUP-1", 1), ("TEA-1", 1))
    assert order.status == Status.SUBMITTED and order.public_id.startswith("ord_")
    lines = {line.sku: line for line in order.lines.all()}
    assert (lines["TEA-1"].quantity, lines["TEA-1"].quantity_reserved, lines["TEA-1"].unit_price_cents) == (4, 4, 450)
    assert order.subtotal_cents == 4 * 450 + 1200
    assert StockLevel.objects.get(product__sku="TEA-1").reserved == 4
    assert StockMovement.objects.filter(kind="reservation", reference_id=order.public_id).count() == 2
    assert PartnerEvent.objects.filter(partner=partner, type="order.created").count() == 1


def test_an_order_of_many_lines_keeps_each_line_and_reservation_in_its_place(partner, stock):
    """Twelve lines: past psycopg's 50 parameters, lines and reservations go as arrays on PostgreSQL."""
    for n in range(12):
        make_product(f"MUG-{n:02d}", stock={stock: 20}, wholesale_price_cents=100 + n)
    order = submit(partner, *[(f"MUG-{n:02d}", n + 1) for n in range(12)])

    lines = list(order.lines.order_by("position").values_list("position", "sku", "quantity", "quantity_reserved",
                                                               "unit_price_cents"))
    assert lines == [(n, f"MUG-{n:02d}", n + 1, n + 1, 100 + n) for n in range(12)]
    reservations = order.reservations.order_by("pk").values_list("line__sku", "quantity", "level__product__sku")
    assert list(reservations) == [(f"MUG-{n:02d}", n + 1, f"MUG-{n:02d}") for n in range(12)]
    assert [level.reserved for level in StockLevel.objects.filter(product__sku__startswith="MUG-")
            .order_by("product__sku")] == list(range(1, 13))
    assert order.subtotal_cents == sum((n + 1) * (100 + n) for n in range(12))


def test_a_duplicate_reference_is_refused_with_the_first_orders_id(partner, stock):
    first = submit(partner, ("TEA-1", 1), reference="CMD-1")
    with pytest.raises(services.DuplicateReference) as excinfo:
        submit(partner, ("TEA-1", 1), reference="CMD-1")
    assert excinfo.value.details["existing_order_id"] == first.public_id
    assert StockLevel.objects.get(product__sku="TEA-1").reserved == 1


def test_partial_availability_is_refused_unless_backorder_is_asked(partner, stock):
    with pytest.raises(Exception) as excinfo:
        submit(partner, ("CUP-1", 8))
    assert excinfo.value.code == "insufficient_stock"
    assert excinfo.value.details["lines"] == [{"sku": "CUP-1", "requested": 8, "available": 5}]
    assert not Order.objects.exists()
    order = submit(partner, ("CUP-1", 8), backorder=True)
    line = order.lines.get()
    assert (line.quantity_reserved, line.quantity_backordered) == (5, 3)
    process(order)
    order.refresh_from_db()
    assert order.status == Status.ON_HOLD
    assert "3 of 8 units are not in stock yet" in order.check_results.get(code="line_not_reserved").message


@pytest.mark.parametrize(("lines", "ship_to", "field"), [
    ([("TEA-1", 0)], {}, "lines[0].quantity"),
    ([("TEA-1", -2)], {}, "lines[0].quantity"),
    ([], {}, "lines"),
    ([("TEA-1", 1)], {"postcode": ""}, "ship_to.postcode"),
    ([("TEA-1", 1)], {"country": "XX"}, "ship_to.country"),
])
def test_bad_input_is_refused_field_by_field_and_changes_nothing(partner, stock, lines, ship_to, field):
    with pytest.raises(services.InvalidOrder) as excinfo:
        submit(partner, *lines, ship_to=ship_to)
    assert field in excinfo.value.fields
    assert not Order.objects.exists() and StockLevel.objects.get(product__sku="TEA-1").reserved == 0


def test_an_unknown_sku_is_named(partner, stock):
    with pytest.raises(Exception) as excinfo:
        submit(partner, ("NOPE-9", 1))
    assert excinfo.value.code == "unknown_sku" and "NOPE-9" in excinfo.value.message


def test_a_clean_order_passes_every_check_and_is_ready(partner, stock):
    order = submit(partner, ("TEA-1", 2))
    process(order)
    order.refresh_from_db()
    assert order.status == Status.READY and order.dispatch_state == DispatchState.DONE
    assert order.checked_at is not None
    assert all(result.passed for result in order.check_results.all())
    assert [e.to_status for e in order.timeline.all()] == ["submitted", "checking", "ready"]
    process(order)  # a redelivered task changes nothing
    assert order.timeline.count() == 3


@pytest.mark.parametrize(("change", "code"), [
    ({"ship_to": {"postcode": "690"}}, "postcode_invalid"),
    ({"ship_to": {"phone": "123"}}, "phone_invalid"),
    ({"ship_to": {"phone": ""}}, "phone_missing"),
    ({"ship_to": {"country": "JP", "postcode": "100-0001", "phone": "+81312345678"}}, "destination_not_served"),
])
def test_each_address_check_holds_the_order_with_what_to_do(partner, stock, change, code):
    order = submit(partner, ("TEA-1", 1), **change)
    process(order)
    order.refresh_from_db()
    assert order.status == Status.ON_HOLD
    failed = order.check_results.get(code=code)
    assert not failed.passed and failed.message and failed.action
    held = PartnerEvent.objects.get(partner=partner, type="order.on_hold").payload
    assert held["reason_code"] == "checks_failed" and failed.message in held["reason"]


def test_pending_partner_order_is_held_until_approved(stock):
    partner = MembershipFactory(partner__status=Partner.Status.PENDING).partner
    order = submit(partner, ("TEA-1", 1))
    process(order)
    order.refresh_from_db()
    assert order.status == Status.ON_HOLD
    assert order.check_results.get(passed=False).code == "partner_not_approved"


def test_oversize_overweight_customs_and_value_checks(partner, settings):
    lyon = WarehouseFactory(code="lyon")
    make_product("SOFA", stock={lyon: 3}, weight_g=40_000)
    make_product("POLE", stock={lyon: 3}, length_mm=2_000)
    make_product("WINE", stock={lyon: 3})
    settings.BIGSTOCK_ORDER_REVIEW_THRESHOLD_CENTS = 1500
    codes = {}
    for sku, extra in [("SOFA", {}), ("POLE", {}), ("WINE", {"ship_to": {"country": "CH", "postcode": "1201",
                                                                             "phone": "+41221234567"}})]:
        order = submit(partner, (sku, 1), **extra)
        process(order)
        codes[sku] = {r.code for r in order.check_results.filter(passed=False)}
    assert "parcel_overweight" in codes["SOFA"]
    assert "parcel_oversize" in codes["POLE"]
    assert "customs_missing" in codes["WINE"]
    order = submit(partner, ("WINE", 2))
    process(order)
    assert "value_review" in set(order.check_results.filter(passed=False).values_list("code", flat=True))


def test_a_possible_duplicate_is_a_warning_only(partner, stock):
    submit(partner, ("TEA-1", 1))
    order = submit(partner, ("TEA-1", 1))
    process(order)
    order.refresh_from_db()
    warning = order.check_results.get(code="possible_duplicate")
    assert warning.severity == "warn" and order.status == Status.READY


def test_partner_fixes_the_address_and_the_order_proceeds(partner, stock):
    order = submit(partner, ("TEA-1", 1), ship_to={"postcode": "690"})
    process(order)
    services.update_address(order=order, ship_to={**order_address(order), "postcode": "69003"}, actor=SYSTEM)
    order.refresh_from_db()
    assert order.status == Status.READY
    assert order.check_results.filter(run=2, passed=False).count() == 0


def order_address(order):
    return {field: getattr(order, f"ship_to_{field}") for field in services.SHIP_TO_FIELDS}


def test_staff_release_a_hold_with_a_justification_audited(partner, settings, stock):
    settings.BIGSTOCK_ORDER_REVIEW_THRESHOLD_CENTS = 100
    order = submit(partner, ("TEA-1", 1))
    process(order)
    staff = Actor(user=UserFactory(is_staff=True))
    with pytest.raises(Exception, match="at least 10"):
        services.release_hold(order=order, justification="ok", actor=staff)
    services.release_hold(order=order, justification="Client connu, montant vérifié", actor=staff)
    order.refresh_from_db()
    assert order.status == Status.READY
    assert AuditLogEntry.objects.get(action="order.hold_released").data["justification"].startswith("Client")


def test_cancel_releases_the_reservation_and_a_forbidden_transition_is_refused(partner, stock):
    order = submit(partner, ("TEA-1", 4))
    services.cancel_order(order=order, actor=SYSTEM, reason="Client changed their mind")
    assert StockLevel.objects.get(product__sku="TEA-1").reserved == 0
    with pytest.raises(states.ForbiddenTransition, match="cancelled"):
        services.cancel_order(order=order, actor=SYSTEM)


def test_partial_then_full_shipment_consumes_the_reservation_and_delivery_closes(partner, stock):
    from django.utils import timezone

    order = submit(partner, ("TEA-1", 4), ("CUP-1", 2))
    process(order)
    services.start_picking(order=order, actor=SYSTEM)
    services.mark_packed(order=order, actor=SYSTEM)
    tea = order.lines.get(sku="TEA-1")
    first = services.create_shipment(order=order, quantities={tea.pk: 3}, carrier="Colissimo",
                                     tracking_number="6A123", actor=SYSTEM)
    order.refresh_from_db()
    assert order.status == Status.PACKED
    second = services.create_shipment(order=order, quantities=None, carrier="Colissimo", tracking_number="6A124",
                                      actor=SYSTEM)
    order.refresh_from_db()
    assert order.status == Status.SHIPPED
    level = StockLevel.objects.get(product__sku="TEA-1")
    assert (level.on_hand, level.reserved) == (6, 0)
    for shipment in (first, second):
        services.add_tracking_event(shipment=shipment, kind="delivered", occurred_at=timezone.now(), actor=SYSTEM)
    order.refresh_from_db()
    assert order.status == Status.DELIVERED
    services.mark_returned(order=order, actor=SYSTEM)
    assert StockLevel.objects.get(product__sku="TEA-1").on_hand == 10
    with pytest.raises(states.ForbiddenTransition):
        services.cancel_order(order=order, actor=SYSTEM)
