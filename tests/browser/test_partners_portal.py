"""The team page in a real Chromium, as a French owner uses it."""

import pytest
from playwright.sync_api import Page, expect

from partners.models import Invitation, Role
from tests.factories import PASSWORD, MembershipFactory, PartnerFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def browser_context_args(browser_context_args):
    """A partner's browser set to French, as most are."""
    return {**browser_context_args, "locale": "fr-FR"}


def test_owner_logs_in_and_invites_a_teammate(page: Page, live_server):
    owner = MembershipFactory(
        user=UserFactory(email="nina@jardins.example"), partner=PartnerFactory(trade_name="Jardins de Provence"),
        role=Role.OWNER,
    )

    page.goto(live_server.url + "/accounts/login/")
    page.get_by_label("E-mail").fill(owner.user.email)
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Connexion").click()
    expect(page).to_have_url(live_server.url + "/")
    expect(page.get_by_role("heading", name="Jardins de Provence", level=1)).to_be_visible()

    page.get_by_role("navigation", name="Principal").get_by_role("link", name="Équipe").click()
    expect(page).to_have_url(live_server.url + "/team/")
    invite = page.locator("section[aria-labelledby=invite-heading]")
    invite.locator("#id_email").fill("lea@jardins.example")
    invite.locator("#id_role").select_option("admin")
    invite.locator("button[type=submit]").click()

    expect(page).to_have_url(live_server.url + "/team/")
    row = page.locator("section[aria-labelledby=invitations-heading] tbody tr", has_text="lea@jardins.example")
    expect(row).to_have_count(1)
    expect(row.locator(".badge-pending")).to_be_visible()
    assert Invitation.objects.get(partner=owner.partner).role == Role.ADMIN
