"""Staff fulfilment: picking lists per warehouse, packing, shipment entry (partial shipping) and
tracking events, each through the staff pages and ``orders.services``."""

import pytest
from django.urls import reverse
from django.utils import timezone

from inventory.models import StockLevel
from orders import selectors, services
from orders.models import Order, Shipment, Status
from partners.audit import SYSTEM
from tests.factories import MembershipFactory, UserFactory, WarehouseFactory, make_product, submit

pytestmark = pytest.mark.django_db


@pytest.fixture
def partner():
    return MembershipFactory().partner


@pytest.fixture
def warehouses():
    lyon = WarehouseFactory(code="lyon", name="Lyon Gerland")
    paris = WarehouseFactory(code="paris", name="Paris Nord")
    make_product("TEA-1", stock={lyon: 50}, name_en="Green tea", name_fr="Thé vert")
    make_product("CUP-1", stock={paris: 50}, name_en="Cup", name_fr="Tasse")
    return lyon, paris


@pytest.fixture
def staff(client):
    """A superuser reading in English (the messages asserted are the English ones)."""
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


def ready(partner, *lines, reference=None):
    order = submit(partner, *lines, reference=reference)
    services.process_order(order_id=order.pk)
    order.refresh_from_db()
    assert order.status == Status.READY
    return order


def test_picking_lists_group_reserved_lines_by_warehouse_oldest_first(partner, warehouses):
    first = ready(partner, ("TEA-1", 2), ("CUP-1", 1), reference="CMD-1")
    second = ready(partner, ("TEA-1", 3), reference="CMD-2")
    submit(partner, ("TEA-1", 1), reference="NOT-CHECKED-YET")
    lists = {picking.code: picking for picking in selectors.picking_lists()}
    assert [pick.order.pk for pick in lists["lyon"].orders] == [first.pk, second.pk]
    assert [(line.sku, line.quantity) for line in lists["lyon"].orders[0].lines] == [("TEA-1", 2)]
    assert lists["lyon"].totals == {"TEA-1": 5}
    assert [pick.order.pk for pick in lists["paris"].orders] == [first.pk]
    assert [picking.code for picking in selectors.picking_lists(warehouse_code="paris")] == ["paris"]


def test_the_printable_picking_page_starts_picking_every_ready_order_of_a_warehouse(staff, partner, warehouses):
    order = ready(partner, ("TEA-1", 2), reference="CMD-1")
    url = reverse("admin:orders_picking")
    body = staff.get(url, {"warehouse": "lyon"}).content.decode()
    assert "Lyon Gerland" in body and "CMD-1" in body and "Green tea" in body and "@media print" in body
    assert "Paris Nord</h2>" not in body

    response = staff.post(f"{url}?warehouse=lyon", {"action": "start_picking", "order": [order.pk]})
    assert response.status_code == 302 and response.url == f"{url}?warehouse=lyon"
    assert Order.objects.get(pk=order.pk).status == Status.PICKING
    assert "Picking" in staff.get(url, {"warehouse": "lyon"}).content.decode()  # still listed while picked


def test_picking_page_reads_a_fixed_number_of_queries(staff, partner, warehouses, django_assert_max_num_queries):
    for _ in range(25):
        ready(partner, ("TEA-1", 1), ("CUP-1", 1))
    with django_assert_max_num_queries(10):
        assert staff.get(reverse("admin:orders_picking")).status_code == 200


def test_mark_packed_only_moves_orders_being_picked(staff, partner, warehouses):
    picked = ready(partner, ("TEA-1", 1))
    services.start_picking(order=picked, actor=SYSTEM)
    not_picked = ready(partner, ("TEA-1", 1))
    staff.post(reverse("admin:orders_picking"), {"action": "mark_packed", "order": [picked.pk, not_picked.pk]})
    assert Order.objects.get(pk=picked.pk).status == Status.PACKED
    assert Order.objects.get(pk=not_picked.pk).status == Status.READY


def test_the_order_list_actions_start_picking_and_pack(staff, partner, warehouses):
    order = ready(partner, ("TEA-1", 1))
    url = reverse("admin:orders_order_changelist")
    staff.post(url, {"action": "start_picking", "_selected_action": [order.pk]})
    assert Order.objects.get(pk=order.pk).status == Status.PICKING
    staff.post(url, {"action": "mark_packed", "_selected_action": [order.pk]})
    assert Order.objects.get(pk=order.pk).status == Status.PACKED


def packed(partner, *lines):
    order = ready(partner, *lines)
    services.start_picking(order=order, actor=SYSTEM)
    services.mark_packed(order=order, actor=SYSTEM)
    return order


def test_a_partial_shipment_then_the_rest_then_delivery_through_the_staff_forms(staff, partner, warehouses):
    order = packed(partner, ("TEA-1", 4))
    tea = order.lines.get()
    url = reverse("admin:orders_order_ship", args=[order.pk])
    form = staff.get(url).content.decode()
    assert "TEA-1 (4 left)" in form

    fields = {"carrier": "Colissimo", "service": "standard", "tracking_number": "6A00000000001",
              "tracking_url": "https://www.laposte.fr/outils/suivre-vos-envois?code=6A00000000001", "weight_g": "1200"}
    response = staff.post(url, {**fields, f"line_{tea.pk}": "3"})
    assert response.status_code == 302
    order.refresh_from_db()
    assert order.status == Status.PACKED and order.lines.get().quantity_shipped == 3
    first = Shipment.objects.get(order=order)
    assert (first.carrier, first.weight_g, first.lines.get().quantity) == ("Colissimo", 1200, 3)

    assert "TEA-1 (1 left)" in staff.get(url).content.decode()
    staff.post(url, {**fields, "tracking_number": "6A00000000002", f"line_{tea.pk}": "1"})
    order.refresh_from_db()
    assert order.status == Status.SHIPPED and order.shipped_at is not None
    level = StockLevel.objects.get(product__sku="TEA-1")
    assert (level.on_hand, level.reserved) == (46, 0)

    now = timezone.localtime()
    for shipment in order.shipments.all():
        track = reverse("admin:orders_shipment_track", args=[shipment.pk])
        response = staff.post(track, {"kind": "delivered", "occurred_at_0": now.strftime("%Y-%m-%d"),
                                      "occurred_at_1": now.strftime("%H:%M:%S"), "location": "Lyon"})
        assert response.status_code == 302
    order.refresh_from_db()
    assert order.status == Status.DELIVERED


def test_the_shipment_form_refuses_more_than_is_left_and_nothing_at_all(staff, partner, warehouses):
    order = packed(partner, ("TEA-1", 2))
    tea = order.lines.get()
    url = reverse("admin:orders_order_ship", args=[order.pk])
    fields = {"carrier": "DPD", "service": "standard", "tracking_number": "X1", "weight_g": "0"}
    assert "errorlist" in staff.post(url, {**fields, f"line_{tea.pk}": "3"}).content.decode()
    assert "Ship at least one unit." in staff.post(url, {**fields, f"line_{tea.pk}": "0"}).content.decode()
    assert not Shipment.objects.exists()


def test_an_order_not_packed_cannot_ship(staff, partner, warehouses):
    order = ready(partner, ("TEA-1", 1))
    tea = order.lines.get()
    response = staff.post(reverse("admin:orders_order_ship", args=[order.pk]), {
        "carrier": "DPD", "service": "standard", "tracking_number": "X1", "weight_g": "0", f"line_{tea.pk}": "1"})
    assert "Only a packed order can be shipped." in response.content.decode()
    assert not Shipment.objects.exists()


def test_a_tracking_event_in_transit_is_recorded_and_does_not_close_the_order(staff, partner, warehouses):
    order = packed(partner, ("CUP-1", 1))
    shipment = services.create_shipment(order=order, quantities=None, carrier="DPD", tracking_number="X9",
                                        actor=SYSTEM)
    now = timezone.localtime()
    staff.post(reverse("admin:orders_shipment_track", args=[shipment.pk]), {
        "kind": "in_transit", "occurred_at_0": now.strftime("%Y-%m-%d"), "occurred_at_1": now.strftime("%H:%M:%S"),
        "description": "Pris en charge", "location": "Paris"})
    assert shipment.tracking.get().description == "Pris en charge"
    assert Order.objects.get(pk=order.pk).status == Status.SHIPPED
    body = staff.get(reverse("admin:orders_shipment_change", args=[shipment.pk])).content.decode()
    assert "Pris en charge" in body and reverse("admin:orders_shipment_track", args=[shipment.pk]) in body
