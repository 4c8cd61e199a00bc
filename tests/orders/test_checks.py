"""Every pre-shipment check passes on a clean order and fails on purpose, with a message and
what to do in both languages; a blocking failure holds the order, and a hold released by staff
proceeds to picking."""

import pytest
from django.utils import translation

from orders import checks, services
from orders.models import Order, Status
from partners.audit import SYSTEM, Actor
from partners.models import Partner
from subscriptions.models import Standing
from tests.factories import SHIP_TO, MembershipFactory, UserFactory, WarehouseFactory, make_product, submit

pytestmark = pytest.mark.django_db

CHECKS = dict(checks.REGISTRY)


@pytest.fixture
def partner():
    return MembershipFactory().partner


@pytest.fixture(autouse=True)
def stock():
    lyon = WarehouseFactory(code="lyon")
    make_product("TEA-1", stock={lyon: 50}, wholesale_price_cents=450, weight_g=500, length_mm=200,
                 hs_code="090210", country_of_origin="CN")
    make_product("SOFA", stock={lyon: 5}, weight_g=40_000)
    make_product("POLE", stock={lyon: 5}, length_mm=2_000)
    make_product("BARE", stock={lyon: 5})  # no customs data
    make_product("RARE", stock={lyon: 1})


def outcome(name, order_id):
    order = Order.objects.select_related("partner").prefetch_related("lines__product").get(pk=order_id)
    return CHECKS[name](order)


def set_standing(level):
    def spoil(order):
        Standing.objects.update_or_create(partner=order.partner, defaults={"level": level, "reason": "test"})
    return spoil


def update(**fields):
    def spoil(order):
        Order.objects.filter(pk=order.pk).update(**fields)
    return spoil


def no_spoil(order):
    pass


def deactivate_tea(order):
    from inventory.models import Product

    Product.objects.filter(sku="TEA-1").update(is_active=False)


def duplicate_before(order):
    submit(order.partner, ("TEA-1", 1), reference="EARLIER")


# name -> [(code, how to submit, how to spoil afterwards)]. ``submit`` kwargs: lines, ship_to, backorder.
FAILURES = [
    ("standing", "standing_suspended", {}, set_standing(Standing.Level.SUSPENDED)),
    ("standing", "standing_inactive", {}, set_standing(Standing.Level.INACTIVE)),
    ("partner_approved", "partner_not_approved", {}, lambda order: Partner.objects.filter(
        pk=order.partner_id).update(status=Partner.Status.PENDING)),
    ("address", "address_incomplete", {}, update(ship_to_city="", ship_to_name=" ")),
    ("address", "postcode_invalid", {"ship_to": {"postcode": "6900"}}, no_spoil),
    ("address", "phone_missing", {"ship_to": {"phone": ""}}, no_spoil),
    ("address", "phone_invalid", {"ship_to": {"phone": "+33 1"}}, no_spoil),
    ("destination", "destination_not_served", {"ship_to": {"country": "JP", "postcode": "100-0001",
                                                           "phone": "+81312345678"}}, no_spoil),
    ("reservation", "line_not_reserved", {"lines": [("RARE", 3)], "backorder": True}, no_spoil),
    ("sku_active", "sku_inactive", {}, deactivate_tea),
    ("parcel", "parcel_overweight", {"lines": [("SOFA", 1)]}, no_spoil),
    ("parcel", "parcel_oversize", {"lines": [("POLE", 1)]}, no_spoil),
    ("customs", "customs_missing", {"lines": [("BARE", 1)], "ship_to": {"country": "CH", "postcode": "1201",
                                                                       "phone": "+41221234567"}}, no_spoil),
    ("duplicate", "possible_duplicate", {}, duplicate_before),
    ("value", "value_review", {"lines": [("TEA-1", 20)]}, no_spoil),
]


def place(partner, lines=(("TEA-1", 1),), ship_to=None, backorder=False):
    return submit(partner, *lines, ship_to=ship_to, backorder=backorder)


def test_every_registered_check_is_exercised_here():
    assert {name for name, *_rest in FAILURES} == set(CHECKS)


@pytest.mark.parametrize("name", list(CHECKS))
def test_each_check_passes_on_a_clean_order(partner, name):
    order = place(partner)
    result = outcome(name, order.pk)
    assert result.passed and result.code == checks.OK


@pytest.mark.parametrize(("name", "code", "submission", "spoil"), FAILURES, ids=[f[1] for f in FAILURES])
def test_each_check_fails_on_purpose_with_its_code_message_and_what_to_do(partner, settings, name, code,
                                                                          submission, spoil):
    settings.BIGSTOCK_ORDER_REVIEW_THRESHOLD_CENTS = 5000
    order = place(partner, **submission)
    spoil(order)
    result = outcome(name, order.pk)
    assert (result.passed, result.code) == (False, code)
    for language in ("en", "fr"):
        with translation.override(language):
            assert checks.message_for(result.code, result.params)
            assert "%(" not in checks.message_for(result.code, result.params)
            assert "%(" not in checks.action_for(result.code, result.params)

    services.process_order(order_id=order.pk)
    order.refresh_from_db()
    stored = order.check_results.get(check_name=name)
    assert (stored.code, stored.passed) == (code, False)
    if result.severity == checks.BLOCK:
        assert order.status == Status.ON_HOLD and stored.message in order.timeline.last().reason_text
    else:
        assert order.status == Status.READY


def test_a_customs_check_passes_outside_the_eu_with_customs_data_and_inside_the_customs_union(partner):
    for ship_to in ({"country": "CH", "postcode": "1201", "phone": "+41221234567"},
                    {"country": "MC", "postcode": "98000", "phone": "+37793123456"}):
        order = place(partner, ship_to=ship_to)
        assert outcome("customs", order.pk).passed


def test_an_incomplete_address_names_the_missing_fields_in_the_readers_language(partner):
    order = place(partner)
    Order.objects.filter(pk=order.pk).update(ship_to_city="")
    result = outcome("address", order.pk)
    assert result.params == {"fields": ["city"]}
    assert checks.message_for(result.code, result.params) == "The delivery address is missing: city."


def test_a_held_order_released_by_staff_proceeds_to_picking_packing_and_shipping(partner, settings):
    settings.BIGSTOCK_ORDER_REVIEW_THRESHOLD_CENTS = 1000
    order = place(partner, lines=[("TEA-1", 4)])
    services.process_order(order_id=order.pk)
    order.refresh_from_db()
    assert order.status == Status.ON_HOLD
    staff = Actor(user=UserFactory(is_staff=True))
    services.release_hold(order=order, justification="Client connu, montant vérifié", actor=staff)
    services.start_picking(order=order, actor=staff)
    services.mark_packed(order=order, actor=staff)
    services.create_shipment(order=order, quantities=None, carrier="Colissimo", tracking_number="6A1", actor=staff)
    order.refresh_from_db()
    assert order.status == Status.SHIPPED
    assert [e.to_status for e in order.timeline.all()] == [
        "submitted", "checking", "on_hold", "ready", "picking", "packed", "shipped"]


def test_the_partner_re_runs_the_checks_after_fixing_the_cause(partner):
    order = place(partner)
    set_standing(Standing.Level.SUSPENDED)(order)
    services.process_order(order_id=order.pk)
    set_standing(Standing.Level.ACTIVE)(order)
    services.rerun_checks(order=Order.objects.get(pk=order.pk), actor=SYSTEM)
    order.refresh_from_db()
    assert order.status == Status.READY and order.check_results.filter(run=2, passed=False).count() == 0


def test_re_running_the_checks_after_a_hold_fix_keeps_the_first_checked_at(partner):
    order = place(partner, ship_to={"postcode": "690"})
    services.process_order(order_id=order.pk)
    order.refresh_from_db()
    assert order.status == Status.ON_HOLD and order.checked_at is not None
    first_checked_at = order.checked_at

    services.update_address(order=order, ship_to={**SHIP_TO, "postcode": "69007"}, actor=SYSTEM)
    services.rerun_checks(order=Order.objects.get(pk=order.pk), actor=SYSTEM)
    order.refresh_from_db()
    assert order.status == Status.READY and order.check_results.order_by("-run").first().run >= 2
    assert order.checked_at == first_checked_at  # delays measure the first run of the checks
