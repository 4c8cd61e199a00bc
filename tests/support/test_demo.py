import pytest
from django.core.management import call_command

from support.models import SlaState, Status, Ticket

pytestmark = pytest.mark.django_db


def test_demo_tickets_cover_every_status_and_some_breach(settings, tmp_path):
    settings.DATA_DIR = tmp_path
    settings.BIGSTOCK_SUPPORT_ATTACHMENTS_DIR = str(tmp_path / "private")
    call_command("load_demo")
    count = Ticket.objects.count()
    call_command("load_demo")
    assert Ticket.objects.count() == count >= 7
    assert set(Ticket.objects.values_list("status", flat=True)) == set(Status.values)
    states = {ticket.sla_state() for ticket in Ticket.objects.all()}
    assert {SlaState.BREACHED, SlaState.AT_RISK, SlaState.PAUSED} <= states
    assert Ticket.objects.filter(merged_into__isnull=False).exists()
    assert Ticket.objects.filter(rating=5).exists()
