import pytest

from partners.middleware import SESSION_KEY
from partners.models import Role
from tests.factories import MembershipFactory, PartnerFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def client(client):
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


def test_user_with_two_partners_switches_between_them(client):
    user = UserFactory()
    first = MembershipFactory(user=user, partner=PartnerFactory(trade_name="Alpha Déco"))
    second = MembershipFactory(user=user, partner=PartnerFactory(trade_name="Bêta Jardin"), role=Role.MEMBER)
    client.force_login(user)
    response = client.get("/")
    assert response.context["partner"] == first.partner
    html = response.content.decode()
    assert f'<option value="{second.partner.public_id}"' in html
    assert f'<option value="{first.partner.public_id}" selected' in html

    response = client.post("/switch-partner/", {"partner": second.partner.public_id}, follow=True)
    assert response.redirect_chain[-1][0] == "/"
    assert client.session[SESSION_KEY] == second.partner.public_id
    assert response.context["partner"] == second.partner
    assert response.context["membership"].role == Role.MEMBER
    assert "You are now working for Bêta Jardin." in response.content.decode()


def test_cannot_switch_to_a_partner_you_are_not_in(client):
    membership = MembershipFactory()
    MembershipFactory(user=membership.user)
    stranger = PartnerFactory()
    client.force_login(membership.user)
    assert client.post("/switch-partner/", {"partner": stranger.public_id}).status_code == 404
    assert client.post("/switch-partner/", {}).status_code == 404
    assert SESSION_KEY not in client.session
    assert client.get("/").context["partner"] == membership.partner


def test_a_single_partner_is_named_in_the_header_without_a_switcher(client):
    membership = MembershipFactory(partner=PartnerFactory(trade_name="Alpha Déco"))
    client.force_login(membership.user)
    html = client.get("/").content.decode()
    assert '<strong class="current-partner">Alpha Déco</strong>' in html
    assert "/switch-partner/" not in html


def test_switching_needs_a_login(client):
    response = client.post("/switch-partner/", {"partner": PartnerFactory().public_id})
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
