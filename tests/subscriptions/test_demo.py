import pytest
from django.core.management import call_command

from subscriptions.models import Invoice, Plan, Standing

pytestmark = pytest.mark.django_db


def test_demo_billing_has_plans_a_paid_partner_and_one_in_grace(settings, tmp_path):
    settings.DATA_DIR = tmp_path
    call_command("load_demo")
    call_command("load_demo")
    assert set(Plan.objects.values_list("code", flat=True)) == {"essentiel", "pro", "entreprise"}
    durand = Standing.objects.get(partner__legal_name="Maison Durand SARL")
    lumiere = Standing.objects.get(partner__legal_name="Atelier Lumière SAS")
    assert (durand.level, lumiere.level) == ("active", "grace")
    assert Invoice.objects.filter(status="open").count() == 1
    numbers = list(Invoice.objects.order_by("number").values_list("number", flat=True))
    assert len(numbers) == len(set(numbers)) >= 5
