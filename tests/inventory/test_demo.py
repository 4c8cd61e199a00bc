import pytest
from django.core.management import call_command
from stdnum import ean

from inventory import reorder
from inventory.models import Product, Receipt, StockLevel, StockMovement, Warehouse
from inventory.selectors import ledger_differences
from partners.models import Partner

pytestmark = pytest.mark.django_db


def test_demo_catalogue_loads_twice_without_duplicates_and_its_ledger_balances(settings, tmp_path):
    settings.DATA_DIR = tmp_path
    call_command("load_demo")
    counts = (Product.objects.count(), StockLevel.objects.count(), StockMovement.objects.count(),
              Receipt.objects.count())
    call_command("load_demo")
    assert (Product.objects.count(), StockLevel.objects.count(), StockMovement.objects.count(),
            Receipt.objects.count()) == counts

    assert set(Warehouse.objects.values_list("code", flat=True)) == {"lyon", "lille"}
    assert 200 <= counts[0] <= 500
    assert all(ean.is_valid(gtin) for gtin in Product.objects.values_list("gtin", flat=True))
    kinds = set(StockMovement.objects.values_list("kind", flat=True))
    assert {"receipt", "adjustment", "count", "reservation", "shipment"} <= kinds
    assert Receipt.objects.filter(status="expected").count() >= 3
    assert Receipt.objects.filter(status="partial").exists()
    assert len(reorder.levels_to_reorder()) >= 10
    durand = Partner.objects.get(legal_name="Maison Durand SARL")
    assert reorder.low_stock_product_ids(partner=durand)
    assert ledger_differences() == []
