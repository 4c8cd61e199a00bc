"""The support pages of the portal: list and filters, new ticket with the order picker, the
thread (without internal notes), replies, a reply to a closed ticket, reopening and rating."""

import pytest
from django.test import Client

from partners.audit import Actor
from partners.models import Role
from support import services
from support.models import Status, Ticket
from tests.factories import MembershipFactory, PartnerFactory
from tests.support.conftest import make_order

pytestmark = pytest.mark.django_db


@pytest.fixture
def client(owner):
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(owner.user)
    return client


def test_the_list_shows_the_partners_tickets_with_filters(client, open_ticket, staff):
    parcel = open_ticket(subject="Parcel stuck", category="order")
    invoice = open_ticket(subject="VAT on invoice", category="billing")
    services.close_ticket(ticket=invoice, by=staff)
    other = MembershipFactory()
    services.open_ticket(partner=other.partner, actor=Actor(user=other.user), subject="Not mine", body="x",
                         category="other")

    html = client.get("/support/").content.decode()
    assert parcel.reference in html and invoice.reference in html and "Not mine" not in html
    html = client.get("/support/?status=active").content.decode()
    assert parcel.reference in html and invoice.reference not in html
    html = client.get("/support/?category=billing").content.decode()
    assert invoice.reference in html and parcel.reference not in html
    html = client.get("/support/?q=vat").content.decode()
    assert invoice.reference in html and parcel.reference not in html


def test_the_list_needs_few_queries(client, open_ticket, django_assert_max_num_queries):
    for number in range(30):
        open_ticket(subject=f"Question {number}")
    with django_assert_max_num_queries(12):
        assert client.get("/support/").status_code == 200


def test_a_new_ticket_about_an_order_from_its_page(client, partner, owner):
    order = make_order(partner, reference="CMD-77")
    response = client.get(f"/support/new/?order={order.public_id}")
    assert response.status_code == 200
    form = response.context["form"]
    assert form.initial == {"order": "CMD-77", "category": "order"}
    assert '<option value="CMD-77">' in response.content.decode()  # the picker lists recent orders

    response = client.post("/support/new/", {"subject": "Parcel stuck", "category": "order", "order": "CMD-77",
                                             "priority": "high", "body": "Nothing moves."})
    ticket = Ticket.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/support/{ticket.public_id}/"
    assert (ticket.order, ticket.priority, ticket.opened_by_user) == (order, "high", owner.user)
    page = client.get(response["Location"]).content.decode()
    assert "Nothing moves." in page and "CMD-77" in page and "First answer by" in page


def test_another_partners_order_is_not_found(client):
    theirs = make_order(PartnerFactory(), reference="THEIRS-9")
    assert client.get(f"/support/new/?order={theirs.public_id}").status_code == 404
    response = client.post("/support/new/", {"subject": "x", "category": "order", "order": "THEIRS-9",
                                             "priority": "normal", "body": "y"})
    assert response.status_code == 200
    assert response.context["form"].errors["order"] == ["No order THEIRS-9 in your account."]
    assert not Ticket.objects.exists()


def test_the_thread_never_shows_internal_notes(client, open_ticket, staff):
    ticket = open_ticket()
    services.reply_as_staff(ticket=ticket, by=staff, body="SECRET: partner is difficult", internal=True)
    services.reply_as_staff(ticket=ticket, by=staff, body="We relaunched the carrier.")
    html = client.get(f"/support/{ticket.public_id}/").content.decode()
    assert "We relaunched the carrier." in html and "Camille · BigStock" in html
    assert "SECRET" not in html and "Assigned" not in html
    assert staff.email not in html


def test_a_reply_from_the_portal(client, open_ticket, staff):
    ticket = open_ticket()
    services.reply_as_staff(ticket=ticket, by=staff, body="Which SKU?")
    response = client.post(f"/support/{ticket.public_id}/", {"body": "TEA-1"})
    assert response.status_code == 302
    ticket.refresh_from_db()
    assert ticket.status == Status.WAITING_ON_STAFF
    assert ticket.messages.filter(body="TEA-1", from_staff=False).exists()


def test_a_reply_to_a_closed_ticket_offers_to_reopen_or_open_a_new_one(client, open_ticket, staff):
    ticket = open_ticket(subject="Parcel stuck")
    services.close_ticket(ticket=ticket, by=staff)
    response = client.post(f"/support/{ticket.public_id}/", {"body": "It happened again"})
    assert response.status_code == 409
    html = response.content.decode()
    assert "is closed, so your message was not sent" in html
    assert "Reopen the ticket and send" in html and "Open a new ticket with this message" in html
    assert 'value="It happened again"' in html
    assert not ticket.messages.filter(body="It happened again").exists()

    response = client.post(f"/support/{ticket.public_id}/reopen/", {"body": "It happened again"})
    assert response.status_code == 302
    ticket.refresh_from_db()
    assert ticket.status == Status.WAITING_ON_STAFF
    assert ticket.messages.filter(body="It happened again").exists()


def test_the_new_ticket_offer_carries_the_message(client, open_ticket, staff):
    ticket = open_ticket(subject="Parcel stuck")
    services.close_ticket(ticket=ticket, by=staff)
    response = client.post("/support/new/", {"subject": f"Follow-up to {ticket.reference}: Parcel stuck",
                                             "category": "order", "priority": "normal", "order": "",
                                             "body": "It happened again"})
    assert response.status_code == 302
    assert Ticket.objects.exclude(pk=ticket.pk).get().messages.get().body == "It happened again"
    page = client.get(f"/support/new/?follow_up={ticket.public_id}")
    assert page.context["form"].initial["subject"] == f"Follow-up to {ticket.reference}: Parcel stuck"


def test_rating_a_closed_ticket(client, open_ticket, staff):
    ticket = open_ticket()
    assert "How did we do?" not in client.get(f"/support/{ticket.public_id}/").content.decode()
    services.close_ticket(ticket=ticket, by=staff)
    assert "How did we do?" in client.get(f"/support/{ticket.public_id}/").content.decode()
    client.post(f"/support/{ticket.public_id}/rate/", {"rating": "5", "comment": "Great"})
    ticket.refresh_from_db()
    assert (ticket.rating, ticket.rating_comment) == (5, "Great")
    assert "You rated our answer 5/5." in client.get(f"/support/{ticket.public_id}/").content.decode()


def test_reopening_a_resolved_ticket(client, open_ticket, staff):
    ticket = open_ticket()
    services.reply_as_staff(ticket=ticket, by=staff, body="Fixed", then=Status.RESOLVED)
    assert "Reopen the ticket" in client.get(f"/support/{ticket.public_id}/").content.decode()
    client.post(f"/support/{ticket.public_id}/reopen/")
    ticket.refresh_from_db()
    assert ticket.status == Status.WAITING_ON_STAFF


def test_members_open_tickets_too(partner):
    member = MembershipFactory(partner=partner, role=Role.MEMBER)
    client = Client()
    client.force_login(member.user)
    response = client.post("/support/new/", {"subject": "x", "category": "other", "priority": "normal",
                                             "body": "y"})
    assert response.status_code == 302


def test_the_navigation_links_to_support(client):
    html = client.get("/support/").content.decode()
    assert 'href="/support/" aria-current="page"' in html


def test_another_partners_ticket_is_not_found(client, open_ticket):
    other = MembershipFactory()
    theirs = services.open_ticket(partner=other.partner, actor=Actor(user=other.user), subject="x", body="y",
                                  category="other")
    assert client.get(f"/support/{theirs.public_id}/").status_code == 404
    assert client.post(f"/support/{theirs.public_id}/", {"body": "hi"}).status_code == 404
    assert client.post(f"/support/{theirs.public_id}/reopen/").status_code == 404
    assert theirs.messages.count() == 1
