import pytest

from partners.models import AuditLogEntry, Partner, Role
from tests.factories import MembershipFactory, PartnerFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def client(client):
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


def _login(client, role=Role.OWNER, **partner_fields):
    membership = MembershipFactory(role=role, partner=PartnerFactory(**partner_fields))
    client.force_login(membership.user)
    return membership


def _profile(partner, **changes):
    fields = ["legal_name", "trade_name", "siret", "vat_number", "legal_form", "address_line1", "address_line2",
              "postcode", "city", "country", "billing_email", "phone"]
    return {**{field: str(getattr(partner, field)) for field in fields}, **changes}


def test_pending_partner_sees_the_review_banner_on_the_dashboard(client):
    _login(client, status=Partner.Status.PENDING)
    html = client.get("/").content.decode()
    assert "BigStock is reviewing your account; you can complete your profile and billing details" in html


def test_active_partner_has_no_review_banner(client):
    _login(client)
    assert "BigStock is reviewing your account" not in client.get("/").content.decode()


def test_admin_edits_the_profile(client):
    admin = _login(client, role=Role.ADMIN)
    response = client.post("/business/", _profile(admin.partner, city="Lyon", vat_number="FR 44 732 829 320",
                                                   siret="732 829 320 00074"))
    assert response.status_code == 302
    admin.partner.refresh_from_db()
    assert (admin.partner.city, admin.partner.vat_number) == ("Lyon", "FR44732829320")
    assert AuditLogEntry.objects.filter(partner=admin.partner, action="partner.updated").exists()


def test_profile_errors_are_shown_next_to_the_fields(client):
    owner = _login(client)
    response = client.post("/business/", _profile(owner.partner, siret="12345", phone="12"))
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert errors["siret"] == ["SIRET must have 14 digits (or 9 for a SIREN)."]
    assert errors["phone"]


def test_a_member_sees_the_profile_read_only_and_cannot_change_it(client):
    member = _login(client, role=Role.MEMBER)
    html = client.get("/business/").content.decode()
    assert member.partner.legal_name in html
    assert "Save the profile" not in html
    response = client.post("/business/", _profile(member.partner, city="Lyon"))
    assert "Only owners and admins can change the business profile." in response.content.decode()
    member.partner.refresh_from_db()
    assert member.partner.city == "Paris"


def test_owner_requires_two_factor_for_the_team(client):
    owner = _login(client)
    assert "Require two-factor authentication for the whole team" in client.get("/business/").content.decode()
    client.post("/business/two-factor/", {"required": "on"})
    owner.partner.refresh_from_db()
    assert owner.partner.require_2fa
    # From now on the owner is asked to set up an authenticator first.
    assert client.get("/business/")["Location"].startswith("/accounts/2fa/totp/activate")


def test_admin_cannot_change_the_two_factor_rule(client):
    admin = _login(client, role=Role.ADMIN)
    assert "Require two-factor authentication for the whole team" not in client.get("/business/").content.decode()
    response = client.post("/business/two-factor/", {"required": "on"}, follow=True)
    assert "Only owners can change the team&#x27;s security settings." in response.content.decode()
    admin.partner.refresh_from_db()
    assert not admin.partner.require_2fa


def test_profile_links_to_the_users_own_two_factor_settings(client):
    _login(client, role=Role.MEMBER)
    assert 'href="/accounts/2fa/"' in client.get("/business/").content.decode()
