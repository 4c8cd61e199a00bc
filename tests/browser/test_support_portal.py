"""Support in a real Chromium, as a French partner uses it: open a ticket about an order with a
file, read BigStock's answer, and see that a closed ticket offers to reopen or start anew."""

import pytest
from playwright.sync_api import Page, expect

from partners.models import Role
from support import services
from support.models import Ticket
from tests.factories import PASSWORD, MembershipFactory, PartnerFactory, UserFactory
from tests.support.conftest import make_order

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def browser_context_args(browser_context_args):
    return {**browser_context_args, "locale": "fr-FR"}


@pytest.fixture(autouse=True)
def _private_files(settings, tmp_path):
    settings.BIGSTOCK_SUPPORT_ATTACHMENTS_DIR = str(tmp_path / "private")


def _log_in(page: Page, live_server, email: str) -> None:
    page.goto(live_server.url + "/accounts/login/")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Connexion").click()
    expect(page).to_have_url(live_server.url + "/")


def test_partner_opens_a_ticket_about_an_order_and_reads_the_answer(page: Page, live_server, tmp_path):
    owner = MembershipFactory(user=UserFactory(email="nina@jardins.example"),
                              partner=PartnerFactory(trade_name="Jardins de Provence"), role=Role.OWNER)
    order = make_order(owner.partner, reference="CMD-2026-7")
    staff = UserFactory(is_staff=True, first_name="Camille")
    screenshot = tmp_path / "suivi.png"
    screenshot.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64)

    _log_in(page, live_server, owner.user.email)
    page.get_by_role("navigation", name="Principal").get_by_role("link", name="Support").click()
    expect(page.get_by_role("heading", name="Support", level=1)).to_be_visible()
    page.get_by_role("button", name="Nouveau ticket").click()

    page.get_by_label("Objet").fill("Colis bloqué")
    page.get_by_label("Sujet").select_option("order")
    page.get_by_label("Commande").fill(order.reference)
    page.get_by_label("Message").fill("Le suivi ne bouge plus depuis 4 jours.")
    page.get_by_label("Fichiers").set_input_files(str(screenshot))
    page.get_by_role("button", name="Ouvrir le ticket").click()

    ticket = Ticket.objects.get()
    expect(page).to_have_url(live_server.url + f"/support/{ticket.public_id}/")
    expect(page.get_by_role("heading", name="Colis bloqué")).to_be_visible()
    expect(page.get_by_text("Première réponse au plus tard")).to_be_visible()
    expect(page.get_by_role("link", name="suivi.png")).to_be_visible()
    assert ticket.order == order

    services.reply_as_staff(ticket=ticket, by=staff, body="Nous avons relancé le transporteur.", internal=False)
    services.reply_as_staff(ticket=ticket, by=staff, body="Note interne à ne pas montrer", internal=True)
    page.reload()
    expect(page.get_by_text("Nous avons relancé le transporteur.")).to_be_visible()
    expect(page.get_by_text("Note interne à ne pas montrer")).to_have_count(0)
    expect(page.locator(".badge-ticket-waiting_on_partner")).to_have_text("En attente de votre réponse")

    services.close_ticket(ticket=ticket, by=staff, notify=False)
    page.reload()
    expect(page.get_by_role("heading", name="Ce ticket est clôturé")).to_be_visible()
    expect(page.get_by_role("button", name="Rouvrir le ticket")).to_be_visible()
    expect(page.get_by_role("button", name="Ouvrir un nouveau ticket")).to_be_visible()
    page.get_by_label("5").check()
    page.get_by_role("button", name="Envoyer ma note").click()
    expect(page.get_by_text("Vous avez noté notre réponse 5/5.")).to_be_visible()
