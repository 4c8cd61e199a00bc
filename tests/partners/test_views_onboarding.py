import re

import pytest
from django.core import mail

from partners.models import AuditLogEntry, Membership, Partner, Role
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

PASSWORD = "un-mot-de-passe-solide"
BUSINESS = {
    "legal_name": "Jardins de Provence SAS",
    "trade_name": "Jardins de Provence",
    "siret": "732 829 320 00074",
    "vat_number": "FR44732829320",
    "legal_form": "SAS",
    "address_line1": "3 place du Marché",
    "address_line2": "",
    "postcode": "13100",
    "city": "Aix-en-Provence",
    "country": "FR",
    "billing_email": "compta@jardins.example",
    "phone": "04 42 00 00 00",
}


def _onboard(client, **changes):
    user = UserFactory()
    client.force_login(user)
    return user, client.post("/onboarding/", {**BUSINESS, **changes}, HTTP_ACCEPT_LANGUAGE="en")


def test_sign_up_verify_email_then_register_the_business_as_pending_owner(client):
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    response = client.post(
        "/accounts/signup/", {"email": "Nina@Jardins.example", "password1": PASSWORD, "password2": PASSWORD}
    )
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    link = re.search(r"https?://[^/\s]+(/accounts/confirm-email/\S+/)", mail.outbox[0].body).group(1)

    response = client.post(link)
    assert response.status_code == 302
    response = client.get(response["Location"], follow=True)
    assert response.redirect_chain[-1][0] == "/onboarding/"
    assert "Register your business" in response.content.decode()

    response = client.post("/onboarding/", BUSINESS, follow=True)
    partner = Partner.objects.get()
    assert partner.status == Partner.Status.PENDING
    assert partner.siret == "73282932000074"
    assert partner.phone == "+33442000000"
    membership = Membership.objects.get(partner=partner)
    assert (membership.user.email, membership.role) == ("nina@jardins.example", Role.OWNER)
    html = response.content.decode()
    assert response.redirect_chain[-1][0] == "/"
    assert "Jardins de Provence" in html
    assert "BigStock is reviewing your account; you can complete your profile and billing details" in html
    assert AuditLogEntry.objects.filter(partner=partner, action="partner.created").exists()


def test_a_user_without_a_business_is_sent_to_onboarding(client):
    client.force_login(UserFactory())
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"] == "/onboarding/"


def test_wrong_siret_check_digit_is_shown_on_the_siret_field(client):
    _user, response = _onboard(client, siret="73282932000075")
    assert response.status_code == 200
    assert not Partner.objects.exists()
    form = response.context["form"]
    assert form.errors["siret"] == ["SIRET has a wrong check digit (Luhn checksum): check for a typo."]
    html = response.content.decode()
    # Next to the field, announced to screen readers.
    assert re.search(r'id="id_siret_error"[^>]*>.*wrong check digit', html, re.S)
    assert re.search(r'<input[^>]*name="siret"[^>]*aria-invalid="true"', html)


def test_wrong_vat_number_is_shown_on_the_vat_field(client):
    _user, response = _onboard(client, vat_number="FR45732829320")
    assert response.status_code == 200
    assert not Partner.objects.exists()
    assert response.context["form"].errors["vat_number"] == [
        "The VAT number has a wrong check digit for FR: check for a typo."
    ]


def test_vat_number_of_another_country_is_refused_with_the_reason(client):
    _user, response = _onboard(client, vat_number="DE136695976")
    assert "The VAT number is from DE but the billing country is FR." in response.context["form"].errors["vat_number"]


def test_required_fields_are_checked_before_anything_is_saved(client):
    _user, response = _onboard(client, legal_name="", city="")
    assert response.status_code == 200
    assert set(response.context["form"].errors) == {"legal_name", "city"}
    assert not Partner.objects.exists()
