"""Notifications: both ways, threaded by a signed reply address, never about one's own
message, never an internal note to a partner."""

import pytest
from django.core import mail

from partners.audit import Actor
from partners.models import Role
from support import emails, services
from support.models import Status
from tests.factories import MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def notified(django_capture_on_commit_callbacks):
    """Run the notifications queued after commit, and return what was sent."""

    def _run(operation):
        mail.outbox.clear()
        with django_capture_on_commit_callbacks(execute=True):
            operation()
        return list(mail.outbox)

    return _run


def test_a_new_ticket_tells_the_team_not_its_author(open_ticket, owner, notified):
    [email] = notified(lambda: open_ticket(subject="Parcel stuck", body="Tracking frozen"))
    assert email.to == ["team@bigstock.example"]
    assert email.subject.startswith("[T-") and "Nouveau ticket de" in email.subject  # French first
    assert "New ticket from" not in email.body and "wrote:" in email.body  # then English
    assert "Tracking frozen" in email.body
    assert owner.user.email not in email.to


def test_a_staff_reply_reaches_the_partner_with_a_signed_reply_address(open_ticket, owner, staff, notified):
    ticket = open_ticket()
    [email] = notified(lambda: services.reply_as_staff(ticket=ticket, by=staff, body="Relaunched the carrier"))
    assert email.to == [owner.user.email]
    assert "Relaunched the carrier" in email.body and "Camille · BigStock" in email.body
    [reply_to] = email.reply_to
    assert f"support+{emails.reply_token(ticket)}@bigstock.example" in reply_to
    assert email.extra_headers["Auto-Submitted"] == "auto-generated"
    assert email.extra_headers["X-BigStock-Ticket"] == ticket.reference
    assert staff.email not in email.body  # partners never see a staff address
    assert emails.ticket_for_token(emails.reply_token(ticket).upper()) == ticket  # case does not matter


def test_internal_notes_never_reach_the_partner(open_ticket, owner, staff, notified):
    ticket = open_ticket()
    colleague = UserFactory(is_staff=True)
    services.assign_ticket(ticket=ticket, assignee=colleague, by=colleague)
    sent = notified(lambda: services.reply_as_staff(ticket=ticket, by=staff, body="SECRET margin issue",
                                                    internal=True))
    assert [email.to for email in sent] == [[colleague.email]]  # the assignee, told by a colleague
    assert sent[0].reply_to == []
    sent = notified(lambda: services.reply_as_staff(ticket=ticket, by=staff, body="Here is the fix"))
    assert [email.to for email in sent] == [[owner.user.email]]
    assert "SECRET" not in sent[0].body and "Here is the fix" in sent[0].body


def test_an_internal_note_by_the_assignee_sends_nothing(open_ticket, staff, notified):
    ticket = open_ticket()
    services.assign_ticket(ticket=ticket, assignee=staff, by=staff)
    assert notified(lambda: services.reply_as_staff(ticket=ticket, by=staff, body="note", internal=True)) == []


def test_a_partner_reply_goes_to_the_assignee_and_never_back_to_its_author(open_ticket, owner, staff, notified):
    ticket = open_ticket()
    colleague = MembershipFactory(partner=owner.partner, role=Role.MEMBER)
    services.assign_ticket(ticket=ticket, assignee=staff, by=staff)
    services.reply_as_partner(ticket=ticket, body="me too", actor=Actor(user=colleague.user))
    [email] = notified(lambda: services.reply_as_partner(ticket=ticket, body="More details",
                                                         actor=Actor(user=owner.user)))
    assert email.to == [staff.email]
    # Staff answer: both partner people in the conversation hear of it.
    [email] = notified(lambda: services.reply_as_staff(ticket=ticket, by=staff, body="Thanks"))
    assert sorted(email.to) == sorted([owner.user.email, colleague.user.email])


def test_a_ticket_opened_by_an_api_key_notifies_owners_and_admins(partner, owner, staff, notified):
    from tests.factories import make_api_key

    key, _secret = make_api_key(partner, created_by=owner)
    admin = MembershipFactory(partner=partner, role=Role.ADMIN)
    MembershipFactory(partner=partner, role=Role.MEMBER)
    ticket = services.open_ticket(partner=partner, actor=Actor(api_key=key), subject="From ERP", body="x",
                                  category="technical")
    [email] = notified(lambda: services.reply_as_staff(ticket=ticket, by=staff, body="Answer"))
    assert sorted(email.to) == sorted([owner.user.email, admin.user.email])


def test_resolving_and_closing_tell_the_partner(open_ticket, owner, staff, notified):
    ticket = open_ticket()
    [email] = notified(lambda: services.resolve_ticket(ticket=ticket, by=staff))
    assert email.to == [owner.user.email] and "Résolu" in email.subject
    [email] = notified(lambda: services.close_ticket(ticket=ticket, by=staff))
    assert "Clôturé" in email.subject and "Rate our answer" in email.body
    ticket.refresh_from_db()
    assert ticket.status == Status.CLOSED


def test_a_resolving_reply_says_the_ticket_is_resolved(open_ticket, staff, notified):
    ticket = open_ticket()
    [email] = notified(lambda: services.reply_as_staff(ticket=ticket, by=staff, body="Fixed",
                                                       then=Status.RESOLVED))
    assert "Résolu" in email.subject and "reopen the ticket" in email.body
