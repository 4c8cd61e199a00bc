import pytest
from django.core.management import call_command

from orders.models import CheckResult, Order, Shipment, Status

pytestmark = pytest.mark.django_db


def test_demo_orders_load_twice_in_every_state_with_different_holds(settings, tmp_path, capsys):
    settings.DATA_DIR = tmp_path
    call_command("load_demo")
    counts = {partner: Order.objects.filter(partner__legal_name=partner).count()
              for partner in ("Maison Durand SARL", "Atelier Lumière SAS")}
    call_command("load_demo")
    assert "DEMO-DUR-01" in capsys.readouterr().out
    for partner, count in counts.items():
        orders = Order.objects.filter(partner__legal_name=partner)
        assert orders.count() == count >= 11
        assert set(orders.values_list("status", flat=True)) >= set(Status.values) - {Status.CHECKING}
    holds = set(CheckResult.objects.filter(order__status=Status.ON_HOLD, passed=False, severity="block")
                .values_list("code", flat=True))
    assert {"postcode_invalid", "value_review", "line_not_reserved"} <= holds
    delivered = Order.objects.filter(status=Status.DELIVERED).first()
    assert delivered.shipments.get().tracking.filter(kind="delivered").exists()
    assert all(shipment.tracking_url.startswith("https://") for shipment in Shipment.objects.all())
