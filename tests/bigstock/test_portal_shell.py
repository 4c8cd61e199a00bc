import re

import pytest

from partners.models import Role
from tests.factories import MembershipFactory

pytestmark = pytest.mark.django_db


def test_anonymous_visitor_is_sent_to_the_login_page(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_login_page_is_french_by_default(client):
    response = client.get("/accounts/login/")
    assert response.status_code == 200
    html = response.content.decode()
    assert '<html lang="fr"' in html
    assert "Connexion" in html


def test_language_switch_to_english_sticks(client):
    response = client.post("/i18n/setlang/", {"language": "en", "next": "/accounts/login/"})
    assert response.status_code == 302
    html = client.get("/accounts/login/").content.decode()
    assert '<html lang="en"' in html
    assert "Sign In" in html


def test_dashboard_shows_every_section_of_the_navigation(client):
    client.force_login(MembershipFactory().user)
    html = client.get("/", HTTP_ACCEPT_LANGUAGE="fr").content.decode()
    for label in [
        "Tableau de bord",
        "Catalogue et stock",
        "Commandes",
        "Facturation",
        "Support",
        "Équipe",
        "API et webhooks",
    ]:
        assert label in html, label
    assert 'aria-current="page"' in html


@pytest.mark.parametrize("role", [Role.OWNER, Role.ADMIN, Role.MEMBER])
def test_every_section_in_the_navigation_opens_for_the_role_that_sees_it(client, role):
    client.force_login(MembershipFactory(role=role).user)
    html = client.get("/", HTTP_ACCEPT_LANGUAGE="fr").content.decode()
    navigation = html.split('aria-label="Principale"')[1].split("</nav>")[0]
    links = re.findall(r'href="(/[^"]*)"', navigation)
    assert len(links) == (6 if role == Role.MEMBER else 7)
    assert ("API et webhooks" in navigation) is (role != Role.MEMBER)
    for link in links:
        assert client.get(link).status_code == 200, link


def test_unknown_portal_page_is_a_friendly_404(client):
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert "text/html" in response["Content-Type"]
    assert "Page introuvable" in response.content.decode()


def test_static_assets_are_vendored_not_from_a_cdn(client):
    html = client.get("/accounts/login/").content.decode()
    assert "/static/vendor/htmx-" in html
    assert "https://" not in html.split("<body")[0]
