import datetime as dt

import pytest

from inventory import receiving
from inventory.models import Receipt, StockLevel, StockMovement
from partners.audit import SYSTEM
from tests.factories import WarehouseFactory, make_product

pytestmark = pytest.mark.django_db

TODAY = dt.date(2026, 9, 21)


@pytest.fixture
def lyon():
    return WarehouseFactory(code="lyon")


def expected_receipt(warehouse, *lines, on=TODAY, reference="CMD-1"):
    return receiving.create_receipt(supplier="Terre & Grès", reference=reference, warehouse=warehouse,
                                    expected_on=on, actor=SYSTEM,
                                    lines=[receiving.LineIn(product, quantity) for product, quantity in lines])


def on_hand(product, warehouse):
    return StockLevel.objects.get(product=product, warehouse=warehouse).on_hand


def test_a_partial_delivery_enters_the_stock_and_leaves_the_rest_expected(lyon):
    mug, bowl = make_product("MUG"), make_product("BOWL")
    receipt = expected_receipt(lyon, (mug, 10), (bowl, 5))
    mug_line = receipt.lines.get(product=mug)

    receipt = receiving.receive_receipt(receipt=receipt, quantities={mug_line.pk: 4}, actor=SYSTEM)

    assert receipt.status == Receipt.Status.PARTIAL
    assert on_hand(mug, lyon) == 4
    movement = StockMovement.objects.get()
    assert (movement.kind, movement.on_hand_delta) == ("receipt", 4)
    assert (movement.reference_type, movement.reference_id) == ("receipt", receipt.public_id)
    assert receiving.incoming_quantities() == {(mug.pk, lyon.pk): 6, (bowl.pk, lyon.pk): 5}


def test_receiving_the_rest_completes_the_receipt(lyon):
    mug, bowl = make_product("MUG"), make_product("BOWL")
    receipt = expected_receipt(lyon, (mug, 10), (bowl, 5))
    receiving.receive_receipt(receipt=receipt, quantities={receipt.lines.get(product=mug).pk: 4}, actor=SYSTEM)

    receipt = receiving.receive_receipt(receipt=receipt, actor=SYSTEM)  # everything outstanding

    assert receipt.status == Receipt.Status.RECEIVED
    assert (on_hand(mug, lyon), on_hand(bowl, lyon)) == (10, 5)
    assert StockMovement.objects.filter(reference_id=receipt.public_id).count() == 3
    assert receiving.incoming_quantities() == {}
    with pytest.raises(receiving.ReceiptClosed):
        receiving.receive_receipt(receipt=receipt, actor=SYSTEM)


def test_receiving_more_than_outstanding_is_refused_with_the_quantities(lyon):
    mug = make_product("MUG")
    receipt = expected_receipt(lyon, (mug, 10))
    with pytest.raises(receiving.TooManyReceived, match="MUG: 12 received but 10 outstanding"):
        receiving.receive_receipt(receipt=receipt, quantities={receipt.lines.get().pk: 12}, actor=SYSTEM)
    assert not StockMovement.objects.exists()
    assert Receipt.objects.get().status == Receipt.Status.EXPECTED


def test_cancelling_closes_what_is_outstanding_and_keeps_what_arrived(lyon):
    mug = make_product("MUG")
    receipt = expected_receipt(lyon, (mug, 10))
    receiving.receive_receipt(receipt=receipt, quantities={receipt.lines.get().pk: 3}, actor=SYSTEM)
    receipt = receiving.cancel_receipt(receipt=receipt, actor=SYSTEM)
    assert receipt.status == Receipt.Status.CANCELLED
    assert on_hand(mug, lyon) == 3
    assert receiving.incoming_dates([mug.pk]) == {}


def test_the_incoming_date_is_the_earliest_outstanding_one(lyon):
    lille = WarehouseFactory(code="lille")
    mug = make_product("MUG")
    later = expected_receipt(lyon, (mug, 10), on=TODAY + dt.timedelta(days=9), reference="late")
    expected_receipt(lille, (mug, 10), on=TODAY + dt.timedelta(days=2), reference="soon")
    done = expected_receipt(lyon, (mug, 1), on=TODAY, reference="done")
    receiving.receive_receipt(receipt=done, actor=SYSTEM)

    assert receiving.incoming_dates([mug.pk]) == {mug.pk: TODAY + dt.timedelta(days=2)}
    assert receiving.incoming_dates_by_warehouse(mug.pk) == {lyon.pk: later.expected_on,
                                                              lille.pk: TODAY + dt.timedelta(days=2)}
