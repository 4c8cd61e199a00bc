"""Staff screens: the queue by SLA due time with breach markers, the thread with internal notes,
replies and canned replies, assignment, merging, the inbound log and the figures per plan."""

import re

import pytest
from django.core import mail
from django.test import Client

from support import services
from support.models import CannedReply, InboundEmail, Status, Ticket
from tests.factories import UserFactory
from tests.support.conftest import PDF, paris, upload

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(staff):
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(staff)
    return client


def test_the_queue_is_sorted_by_sla_due_time_with_breach_markers(admin_client, open_ticket, staff, time_machine):
    time_machine.move_to(paris(2026, 3, 2, 9, 0))
    breached = open_ticket(subject="Oldest", now=paris(2026, 2, 23, 10, 0))
    soon = open_ticket(subject="Soon", now=paris(2026, 3, 2, 9, 0))  # due 17:00, at risk from 15:00
    later = open_ticket(subject="Later", now=paris(2026, 3, 2, 9, 0))
    services.reply_as_staff(ticket=later, by=staff, body="ok", then=Status.WAITING_ON_STAFF)
    paused = open_ticket(subject="Paused", now=paris(2026, 3, 2, 8, 0))
    services.reply_as_staff(ticket=paused, by=staff, body="Which SKU?")
    time_machine.move_to(paris(2026, 3, 2, 15, 30))

    html = admin_client.get("/admin/support/ticket/").content.decode()
    order = [ref for ref in re.findall(r"T-2026-\d{5}", html)]
    assert order.index(breached.reference) < order.index(soon.reference) < order.index(later.reference)
    assert order.index(later.reference) < order.index(paused.reference)
    markers = re.findall(r'data-sla="(\w+)"', html)
    assert markers[:3] == ["breached", "at_risk", "on_track"] and markers[3] == "paused"

    breached_only = admin_client.get("/admin/support/ticket/?queue=breached").content.decode()
    assert breached.reference in breached_only and soon.reference not in breached_only


def test_staff_read_the_whole_thread_and_reply_with_a_canned_reply(admin_client, open_ticket, owner, staff,
                                                                   django_capture_on_commit_callbacks):
    ticket = open_ticket(files=[upload("proof.pdf", PDF)])
    services.reply_as_staff(ticket=ticket, by=staff, body="Internal: carrier contacted", internal=True)
    canned = CannedReply.objects.create(title="Thanks", body="Thank you, we are on it.")
    page = admin_client.get(f"/admin/support/ticket/{ticket.pk}/change/").content.decode()
    assert "Internal: carrier contacted" in page and "internal note" in page and "proof.pdf" in page

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(f"/admin/support/ticket/{ticket.pk}/reply/",
                                     {"canned": canned.pk, "body": "", "then": Status.WAITING_ON_PARTNER})
    assert response.status_code == 302
    reply = ticket.messages.filter(from_staff=True, is_internal=False).get()
    assert reply.body == "Thank you, we are on it." and reply.author_user == staff
    assert mail.outbox[-1].to == [owner.user.email]


def test_an_internal_note_from_the_staff_screen_stays_internal(admin_client, open_ticket, owner,
                                                               django_capture_on_commit_callbacks):
    ticket = open_ticket()
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(f"/admin/support/ticket/{ticket.pk}/reply/",
                          {"body": "Do not tell them yet", "internal": "on", "then": Status.RESOLVED})
    ticket.refresh_from_db()
    assert ticket.status == Status.OPEN and ticket.first_response_at is None
    assert ticket.messages.get(is_internal=True).body == "Do not tell them yet"
    assert mail.outbox == []
    partner_client = Client()
    partner_client.force_login(owner.user)
    assert "Do not tell them yet" not in partner_client.get(f"/support/{ticket.public_id}/").content.decode()


def test_assignment_from_the_change_form(admin_client, open_ticket, staff, django_capture_on_commit_callbacks):
    ticket = open_ticket()
    colleague = UserFactory(is_staff=True)
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(f"/admin/support/ticket/{ticket.pk}/change/",
                                     {"assignee": colleague.pk, "priority": "urgent"})
    assert response.status_code == 302
    ticket.refresh_from_db()
    assert (ticket.assignee, ticket.priority) == (colleague, "urgent")
    assert mail.outbox[-1].to == [colleague.email] and "Assigné à vous" in mail.outbox[-1].subject  # French first


def test_actions_assign_resolve_and_merge(admin_client, open_ticket, staff):
    first, second, third = open_ticket(), open_ticket(), open_ticket()
    admin_client.post("/admin/support/ticket/", {"action": "assign_to_me", "_selected_action": [first.pk]})
    first.refresh_from_db()
    assert first.assignee == staff
    admin_client.post("/admin/support/ticket/?queue=all",
                      {"action": "merge_into_oldest", "_selected_action": [second.pk, third.pk, first.pk]})
    assert set(Ticket.objects.filter(merged_into=first).values_list("pk", flat=True)) == {second.pk, third.pk}
    assert first.messages.filter(is_internal=False).count() == 3
    admin_client.post("/admin/support/ticket/", {"action": "resolve", "_selected_action": [first.pk]})
    first.refresh_from_db()
    assert first.status == Status.RESOLVED


def test_figures_per_plan(admin_client, open_ticket, staff, time_machine):
    time_machine.move_to(paris(2026, 3, 6, 17, 0))  # a Friday
    fast = open_ticket(now=paris(2026, 3, 2, 10, 0))
    services.reply_as_staff(ticket=fast, by=staff, body="ok", now=paris(2026, 3, 2, 12, 0))  # 2 h
    slow = open_ticket(now=paris(2026, 3, 3, 10, 0))
    services.reply_as_staff(ticket=slow, by=staff, body="sorry", now=paris(2026, 3, 4, 12, 0))  # 11 h: breached
    open_ticket(now=paris(2026, 3, 5, 9, 0))  # no answer, first response due Thursday 17:00: breached
    response = admin_client.get("/admin/support/ticket/figures/")
    [row] = response.context["rows"]
    assert row.code == "pro" and row.median_first_response_hours == 6.5
    assert row.first_response_breaches_this_week == 2
    assert row.open_tickets == 3
    assert 'id="plan-pro"' in response.content.decode()


def test_the_inbound_email_log_is_readable(admin_client):
    InboundEmail.objects.create(from_address="stranger@x.example", subject="Hello", outcome="unknown_sender",
                                note="who?")
    response = admin_client.get("/admin/support/inboundemail/?outcome__exact=unknown_sender")
    assert response.status_code == 200 and "stranger@x.example" in response.content.decode()


def test_partners_cannot_reach_the_staff_screens(open_ticket, owner):
    ticket = open_ticket()
    client = Client()
    client.force_login(owner.user)
    assert client.get("/admin/support/ticket/").status_code == 302
    assert client.post(f"/admin/support/ticket/{ticket.pk}/reply/", {"body": "x"}).status_code == 302
    assert ticket.messages.count() == 1
