"""Staff order screens: the order list, the hold queue, release and cancel."""

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from inventory.models import StockLevel
from orders import services
from orders.models import Order, Status
from partners.models import AuditLogEntry
from tests.factories import MembershipFactory, UserFactory, WarehouseFactory, make_product, submit

pytestmark = pytest.mark.django_db


@pytest.fixture
def partner():
    return MembershipFactory(partner__trade_name="Thé & Co").partner


@pytest.fixture
def stock():
    make_product("TEA-1", stock={WarehouseFactory(code="lyon"): 100}, wholesale_price_cents=450)


@pytest.fixture
def staff(client):
    """A superuser reading in English (the messages asserted are the English ones)."""
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


def held(partner, reference=None, **ship_to):
    """An order put on hold by its checks (an invalid postcode unless told otherwise)."""
    order = submit(partner, ("TEA-1", 1), reference=reference, ship_to=ship_to or {"postcode": "690"})
    services.process_order(order_id=order.pk)
    order.refresh_from_db()
    assert order.status == Status.ON_HOLD
    return order


def test_the_order_list_filters_by_status_dispatch_state_queue_and_partner(staff, partner, stock):
    ready = submit(partner, ("TEA-1", 1), reference="CMD-READY")
    services.process_order(order_id=ready.pk)
    submit(partner, ("TEA-1", 1), reference="CMD-WAITING")
    url = reverse("admin:orders_order_changelist")
    for query, expected in [("status__exact=ready", "CMD-READY"), ("dispatch_state__exact=waiting", "CMD-WAITING"),
                            (f"partner__id__exact={partner.pk}", "CMD-READY")]:
        response = staff.get(f"{url}?{query}")
        assert response.status_code == 200
        assert expected in response.content.decode()
    assert "CMD-WAITING" not in staff.get(f"{url}?status__exact=ready").content.decode()


def test_staff_find_an_order_by_reference_or_public_id(staff, partner, stock):
    order = submit(partner, ("TEA-1", 1), reference="CMD-2026-0042")
    other = submit(partner, ("TEA-1", 1), reference="CMD-OTHER")
    url = reverse("admin:orders_order_changelist")
    for term in ("CMD-2026-0042", order.public_id):
        body = staff.get(url, {"q": term}).content.decode()
        assert order.public_id in body and other.public_id not in body


def test_the_order_list_reads_a_fixed_number_of_queries_however_many_orders(staff, partner, stock,
                                                                            django_assert_max_num_queries):
    for _ in range(60):
        submit(partner, ("TEA-1", 1))
    with django_assert_max_num_queries(12):
        assert staff.get(reverse("admin:orders_order_changelist")).status_code == 200


def test_the_order_page_shows_checks_timeline_and_what_staff_can_do(staff, partner, stock):
    order = held(partner)
    body = staff.get(reverse("admin:orders_order_change", args=[order.pk])).content.decode()
    assert "postcode_invalid" in body and "Correct the postcode" in body
    assert reverse("admin:orders_order_release", args=[order.pk]) in body
    assert reverse("admin:orders_order_cancel", args=[order.pk]) in body


def test_the_hold_queue_lists_holds_oldest_first_with_reasons_and_what_to_do(staff, partner, stock):
    first = held(partner, reference="CMD-FIRST")
    second = held(partner, reference="CMD-SECOND", phone="")
    submit(partner, ("TEA-1", 1), reference="CMD-FINE")
    response = staff.get(reverse("admin:orders_hold_queue"))
    body = response.content.decode()
    assert response.status_code == 200
    assert body.index(first.public_id) < body.index(second.public_id)
    assert "The postcode 690 is not valid for FR." in body
    assert "The carrier needs the recipient&#x27;s phone number." in body
    assert "CMD-FINE" not in body


def test_the_hold_queue_reads_a_fixed_number_of_queries(staff, partner, stock, django_assert_max_num_queries):
    for _ in range(30):
        held(partner)
    with django_assert_max_num_queries(10):
        assert staff.get(reverse("admin:orders_hold_queue")).status_code == 200


def test_release_needs_a_written_justification_then_the_order_proceeds_to_picking(staff, partner, stock):
    order = held(partner)
    url = reverse("admin:orders_order_release", args=[order.pk])
    assert "Held because: The postcode 690 is not valid for FR." in staff.get(url).content.decode()

    response = staff.post(url, {"justification": "ok"})
    assert response.status_code == 200 and "errorlist" in response.content.decode()
    assert Order.objects.get(pk=order.pk).status == Status.ON_HOLD

    response = staff.post(url, {"justification": "Code postal vérifié avec le client par téléphone"})
    assert response.status_code == 302 and response.url == reverse("admin:orders_hold_queue")
    order.refresh_from_db()
    assert order.status == Status.READY
    entry = AuditLogEntry.objects.get(action="order.hold_released")
    assert entry.data["justification"].startswith("Code postal") and "(staff)" in entry.actor_label
    assert order.timeline.last().reason.startswith("Code postal")

    staff.post(reverse("admin:orders_picking"), {"action": "start_picking", "order": [order.pk]})
    assert Order.objects.get(pk=order.pk).status == Status.PICKING


def test_cancel_needs_a_reason_and_puts_the_stock_back_on_sale(staff, partner, stock):
    order = held(partner)
    url = reverse("admin:orders_order_cancel", args=[order.pk])
    assert staff.post(url, {"reason": ""}).status_code == 200
    response = staff.post(url, {"reason": "Adresse introuvable, le client ne répond pas"})
    assert response.status_code == 302
    order.refresh_from_db()
    assert order.status == Status.CANCELLED
    assert order.timeline.last().reason == "Adresse introuvable, le client ne répond pas"
    assert StockLevel.objects.get(product__sku="TEA-1").reserved == 0


def test_a_refused_transition_is_shown_as_an_error_not_a_crash(staff, partner, stock):
    order = submit(partner, ("TEA-1", 1))
    services.process_order(order_id=order.pk)  # ready, not on hold
    response = staff.post(reverse("admin:orders_order_release", args=[order.pk]),
                          {"justification": "Nothing to release here, really"}, follow=True)
    assert response.status_code == 200
    assert "Only an order on hold can be released." in response.content.decode()
    assert Order.objects.get(pk=order.pk).status == Status.READY


def test_staff_without_the_change_permission_can_look_but_not_release(client, partner, stock):
    viewer = UserFactory(is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_order"))
    client.force_login(viewer)
    order = held(partner)
    assert client.get(reverse("admin:orders_hold_queue")).status_code == 200
    assert client.post(reverse("admin:orders_order_release", args=[order.pk]),
                       {"justification": "I should not be able to do this"}).status_code == 403
    assert Order.objects.get(pk=order.pk).status == Status.ON_HOLD


def test_partners_never_reach_the_staff_pages(client, partner, stock):
    client.force_login(MembershipFactory(partner=partner).user)
    for name in ("admin:orders_hold_queue", "admin:orders_picking", "admin:orders_delays"):
        response = client.get(reverse(name))
        assert response.status_code == 302 and "/admin/login/" in response.url
