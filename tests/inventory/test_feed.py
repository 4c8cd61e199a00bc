"""The stock feed's reads (pages, change cursor, settling) and the batched stock.changed event."""

import threading
from datetime import timedelta

import pytest
import time_machine
from django.db import connection, transaction
from django.utils import timezone

from bigstock.models import PartnerEvent, WebhookDelivery
from inventory import feed, services
from inventory.feed import StockQuery
from inventory.models import StockChangePublication, StockMovement
from inventory.services import LineRequest
from partners.audit import SYSTEM
from partners.models import Partner
from tests.factories import PartnerFactory, WarehouseFactory, WebhookEndpointFactory, make_product

pytestmark = pytest.mark.django_db


@pytest.fixture
def lyon():
    return WarehouseFactory(code="lyon")


@pytest.fixture
def settled_at_once(monkeypatch):
    """Changes reach the cursor as soon as they are written (the delay itself is tested below)."""
    monkeypatch.setattr(feed, "FEED_SETTLE_DELAY", timedelta(0))


def receive(product, warehouse, quantity):
    services.receive(product=product, warehouse=warehouse, quantity=quantity, actor=SYSTEM)


def skus(page):
    return [sku for sku, _available, _seq in page.rows]


# --- Cursor and settling -------------------------------------------------------------------------


def test_a_change_reaches_the_cursor_only_once_settled(lyon):
    mug = make_product("MUG-1")
    receive(mug, lyon, 5)
    movement = StockMovement.objects.get()
    assert feed.settled_change_cursor() == 0  # just written: a transaction with an earlier id may still commit
    with time_machine.travel(timezone.now() + feed.FEED_SETTLE_DELAY + timedelta(seconds=1)):
        assert feed.settled_change_cursor() == movement.pk


def test_changes_since_lists_only_later_changes_in_the_order_they_happened(lyon, settled_at_once):
    mug, cup, pot = make_product("MUG-1"), make_product("CUP-1"), make_product("POT-1")
    receive(mug, lyon, 5)
    receive(cup, lyon, 3)
    cursor = feed.stock_page(StockQuery()).change_cursor
    receive(pot, lyon, 2)
    receive(mug, lyon, 1)
    page = feed.stock_page(StockQuery(changes_since=cursor))
    assert [(sku, available) for sku, available, _seq in page.rows] == [("POT-1", 2), ("MUG-1", 6)]
    assert page.change_cursor == StockMovement.objects.latest("pk").pk
    assert feed.stock_page(StockQuery(changes_since=page.change_cursor)).rows == []


def test_skus_changed_in_one_transaction_are_never_lost_between_two_pages(lyon, settled_at_once):
    for sku in ("A-1", "B-1", "C-1"):
        make_product(sku, stock={lyon: 10})
    start = feed.stock_page(StockQuery()).change_cursor
    # One order over three SKUs: the three rows share one change_seq.
    services.reserve(lines=[LineRequest(sku, 1) for sku in ("C-1", "A-1", "B-1")], partner=None, actor=SYSTEM,
                     reference=("order", "o1"))
    seen, query = [], StockQuery(changes_since=start, limit=1)
    while True:
        page = feed.stock_page(query)
        seen += skus(page)
        position = feed.next_position(query, page)
        if position is None:
            break
        query = StockQuery(changes_since=start, limit=1, after=tuple(position["after"]), as_of=position["as_of"])
    assert seen == ["A-1", "B-1", "C-1"]


def test_a_walk_keeps_the_cursor_of_its_first_page(lyon, settled_at_once):
    for sku in ("A-1", "B-1", "C-1"):
        make_product(sku, stock={lyon: 1})
    query = StockQuery(limit=2)
    first = feed.stock_page(query)
    receive(make_product("Z-1"), lyon, 1)  # while the client walks
    position = feed.next_position(query, first)
    second = feed.stock_page(StockQuery(limit=2, after=position["after"], as_of=position["as_of"]))
    assert skus(first) + skus(second) == ["A-1", "B-1", "C-1", "Z-1"]
    assert second.change_cursor == first.change_cursor  # so Z-1 comes again with changes_since
    assert skus(feed.stock_page(StockQuery(changes_since=second.change_cursor))) == ["Z-1"]


def test_filters_by_sku_stock_and_update_time(lyon, settled_at_once):
    mug, cup = make_product("MUG-1", stock={lyon: 4}), make_product("CUP-1")
    make_product("POT-1", stock={lyon: 1})
    later = timezone.now() + timedelta(minutes=1)
    with time_machine.travel(later):
        receive(cup, lyon, 2)
    assert skus(feed.stock_page(StockQuery(skus=("MUG-1", "CUP-1")))) == ["CUP-1", "MUG-1"]
    with time_machine.travel(later + timedelta(minutes=1)):
        services.adjust(product=mug, warehouse=lyon, delta=-4, reason="Casse", actor=SYSTEM)
    assert skus(feed.stock_page(StockQuery(in_stock=True))) == ["CUP-1", "POT-1"]
    assert skus(feed.stock_page(StockQuery(in_stock=False))) == ["MUG-1"]
    assert skus(feed.stock_page(StockQuery(updated_since=later))) == ["CUP-1", "MUG-1"]


def test_an_unknown_sku_in_the_filter_is_named(lyon):
    make_product("MUG-1")
    with pytest.raises(services.UnknownSku) as excinfo:
        feed.stock_page(StockQuery(skus=("MUG-1", "NOPE-1", "NOPE-2")))
    assert excinfo.value.details["skus"] == ["NOPE-1", "NOPE-2"]
    assert excinfo.value.status_code == 404


def test_a_page_is_one_statement_whatever_its_size(lyon, django_assert_num_queries):
    for n in range(30):
        make_product(f"SKU-{n:03d}", stock={lyon: n + 1})
    for limit in (1, 30):
        with django_assert_num_queries(1):
            feed.stock_page(StockQuery(limit=limit, skus=tuple(f"SKU-{n:03d}" for n in range(30))))
        with django_assert_num_queries(1):
            feed.stock_page(StockQuery(limit=limit, changes_since=0, updated_since=timezone.now()))


@pytest.mark.django_db(transaction=True)
def test_a_long_transaction_still_writing_holds_the_cursor_back_until_it_commits(
        requires_postgres, lyon, settled_at_once):
    """An all-or-nothing import that runs for a minute must not be skipped by clients that poll meanwhile."""
    early, late = make_product("EARLY-1"), make_product("LATE-1")
    written, release = threading.Event(), threading.Event()

    def long_import():
        try:
            with transaction.atomic():
                receive(early, lyon, 7)  # takes its movement id now, commits much later
                written.set()
                release.wait(10)
        finally:
            connection.close()

    worker = threading.Thread(target=long_import)
    worker.start()
    try:
        assert written.wait(10)
        receive(late, WarehouseFactory(code="lille"), 1)  # a later id, committed at once
        held = feed.settled_change_cursor()
        assert held < StockMovement.objects.get(level__product=late).pk  # not past the import's movements
    finally:
        release.set()
        worker.join(10)
    page = feed.stock_page(StockQuery(changes_since=held))
    assert sorted(skus(page)) == ["EARLY-1", "LATE-1"]


# --- stock.changed, batched -----------------------------------------------------------------------


def stock_events(partner):
    return list(PartnerEvent.objects.filter(partner=partner, type="stock.changed"))


def test_a_flood_of_movements_becomes_one_event_per_subscribed_partner(lyon, settled_at_once):
    products = [make_product(f"SKU-{n:02d}") for n in range(20)]
    subscribed = WebhookEndpointFactory(event_types=["stock.changed"]).partner
    everything = WebhookEndpointFactory(event_types=[]).partner  # an empty list means every event
    other_types = WebhookEndpointFactory(event_types=["invoice.paid"]).partner
    disabled = WebhookEndpointFactory(event_types=["stock.changed"], enabled=False).partner
    closed = WebhookEndpointFactory(event_types=["stock.changed"],
                                    partner=PartnerFactory(status=Partner.Status.CLOSED)).partner
    polling = PartnerFactory()
    assert feed.publish_stock_changes() == 0  # the first run starts from now

    for n in range(1000):
        receive(products[n % 20], lyon, 1)
    assert StockMovement.objects.count() == 1000
    assert feed.publish_stock_changes() == 2

    for partner in (subscribed, everything):
        [event] = stock_events(partner)
        assert sorted((change["sku"], change["available"]) for change in event.payload["changes"]) == [
            (f"SKU-{n:02d}", 50) for n in range(20)]
        assert event.payload["has_more"] is False
        assert event.payload["change_cursor"] == str(StockMovement.objects.latest("pk").pk)
        assert WebhookDelivery.objects.filter(event=event).count() == 1
    for partner in (other_types, disabled, closed, polling):
        assert stock_events(partner) == []
    assert feed.publish_stock_changes() == 0  # nothing new: nothing sent
    assert PartnerEvent.objects.filter(type="stock.changed").count() == 2


def test_the_event_lists_the_changes_of_its_window_only(lyon, settled_at_once):
    mug, cup = make_product("MUG-1"), make_product("CUP-1")
    partner = WebhookEndpointFactory(event_types=["stock.changed"]).partner
    feed.publish_stock_changes()
    receive(mug, lyon, 3)
    feed.publish_stock_changes()
    receive(cup, lyon, 2)
    feed.publish_stock_changes()
    first, second = sorted(stock_events(partner), key=lambda event: event.pk)
    assert first.payload["changes"] == [{"sku": "MUG-1", "available": 3}]
    assert second.payload["changes"] == [{"sku": "CUP-1", "available": 2}]
    assert second.payload["changes_since"] == first.payload["change_cursor"]


def test_an_unsettled_change_waits_for_the_next_batch(lyon):
    mug = make_product("MUG-1")
    partner = WebhookEndpointFactory(event_types=["stock.changed"]).partner
    feed.publish_stock_changes()
    receive(mug, lyon, 3)
    assert feed.publish_stock_changes() == 0
    with time_machine.travel(timezone.now() + feed.FEED_SETTLE_DELAY + timedelta(seconds=1)):
        assert feed.publish_stock_changes() == 1
    assert stock_events(partner)[0].payload["changes"] == [{"sku": "MUG-1", "available": 3}]


def test_a_huge_batch_lists_the_first_skus_and_points_to_the_feed_for_the_rest(lyon, settled_at_once, monkeypatch):
    monkeypatch.setattr(feed, "STOCK_CHANGED_MAX_SKUS", 3)
    partner = WebhookEndpointFactory(event_types=["stock.changed"]).partner
    feed.publish_stock_changes()
    for n in range(5):
        make_product(f"SKU-{n}", stock={lyon: 1})
    feed.publish_stock_changes()
    [event] = stock_events(partner)
    assert len(event.payload["changes"]) == 3 and event.payload["has_more"] is True
    rest = feed.stock_page(StockQuery(changes_since=int(event.payload["changes_since"])))
    assert len(rest.rows) == 5
    assert StockChangePublication.objects.get().last_change_seq == int(event.payload["change_cursor"])
