import pytest
from django.core.management import call_command

from partners.models import ApiKey, Membership, Partner

pytestmark = pytest.mark.django_db


def test_demo_has_partners_in_every_state_with_teams_and_working_keys(client, capsys, settings, tmp_path):
    settings.DATA_DIR = tmp_path
    call_command("load_demo")
    first = capsys.readouterr().out
    call_command("load_demo")
    second = capsys.readouterr().out

    assert set(Partner.objects.values_list("status", flat=True)) == {"pending", "active", "suspended", "closed"}
    for partner in Partner.objects.all():
        roles = set(Membership.objects.filter(partner=partner).values_list("role", flat=True))
        assert {"owner", "member"} <= roles
    keys = [line.split("API key: ")[1].strip() for line in second.splitlines() if "API key: " in line]
    assert len(keys) == 2
    assert keys == [line.split("API key: ")[1].strip() for line in first.splitlines() if "API key: " in line]
    assert ApiKey.objects.count() == 2
    response = client.get("/api/v1/", HTTP_AUTHORIZATION=f"Bearer {keys[0]}")
    assert response.status_code == 200
