"""Support fixtures: a partner on a plan with an 8-hour first response and a 24-hour resolution
(business hours), its owner, a staff member, and attachments kept in the test's own folder."""

import datetime as dt

import pytest
from django.core.files.base import ContentFile

from partners.audit import SYSTEM, Actor
from partners.models import Role
from subscriptions import services as billing
from support import services, sla
from tests.factories import MembershipFactory, PartnerFactory, PlanFactory, UserFactory

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n%%EOF\n"


def paris(*args) -> dt.datetime:
    """A Paris wall-clock time, as an aware datetime."""
    return dt.datetime(*args, tzinfo=sla.PARIS)


def upload(name: str, content: bytes) -> ContentFile:
    return ContentFile(content, name=name)


@pytest.fixture(autouse=True)
def _support_settings(settings, tmp_path):
    settings.BIGSTOCK_SUPPORT_ATTACHMENTS_DIR = str(tmp_path / "private")
    settings.BIGSTOCK_SUPPORT_EMAIL = "support@bigstock.example"
    settings.BIGSTOCK_SUPPORT_TEAM_EMAIL = "team@bigstock.example"
    settings.BIGSTOCK_SUPPORT_LEAD_EMAIL = "lead@bigstock.example"
    settings.BIGSTOCK_SUPPORT_BUSINESS_HOURS = [(9 * 60, 18 * 60)]
    settings.BIGSTOCK_SUPPORT_BUSINESS_DAYS = [1, 2, 3, 4, 5]
    settings.BIGSTOCK_SUPPORT_HOLIDAYS = []
    settings.BIGSTOCK_SUPPORT_FRENCH_HOLIDAYS = True
    settings.BIGSTOCK_SUPPORT_ESCALATE_BEFORE_HOURS = 2
    settings.BIGSTOCK_SUPPORT_MAX_ATTACHMENT_BYTES = 1024 * 1024
    settings.BIGSTOCK_SUPPORT_MAX_ATTACHMENTS = 3


@pytest.fixture
def plan():
    return PlanFactory(code="pro", name_en="Pro", support_first_response_hours=8, support_resolution_hours=24)


@pytest.fixture
def partner(plan):
    partner = PartnerFactory()
    billing.subscribe(partner=partner, plan=plan, actor=SYSTEM)
    return partner


@pytest.fixture
def owner(partner):
    return MembershipFactory(partner=partner, role=Role.OWNER)


@pytest.fixture
def staff():
    return UserFactory(is_staff=True, is_superuser=True, first_name="Camille", email="camille@bigstock.example")


@pytest.fixture
def open_ticket(partner, owner):
    """``open_ticket(**fields)``: a ticket opened by the owner through the service."""

    def _open(**fields):
        defaults = {"subject": "Parcel stuck", "body": "The tracking has not moved.", "category": "order"}
        by = fields.pop("by", owner)
        return services.open_ticket(partner=by.partner, actor=Actor(user=by.user), **{**defaults, **fields})

    return _open


def make_order(partner, reference: str | None = None):
    """A real order of ``partner`` (a product with stock, submitted through the service)."""
    import factory.random

    from tests.factories import WarehouseFactory, make_product, submit

    warehouse = WarehouseFactory(code="support-wh")
    sku = f"SUP-{factory.random.randgen.randint(10**6, 10**7)}"
    make_product(sku, stock={warehouse: 5})
    return submit(partner, (sku, 1), reference=reference)
