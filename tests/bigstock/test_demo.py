import pytest
from django.core.management import call_command

from partners.models import User

pytestmark = pytest.mark.django_db


def test_demo_data_loads_twice_without_duplicates_and_prints_logins(capsys):
    call_command("load_demo")
    call_command("load_demo")
    out = capsys.readouterr().out
    assert "http://127.0.0.1:" in out
    assert "staff@bigstock.example / " in out
    assert User.objects.filter(email="staff@bigstock.example", is_staff=True).count() == 1
