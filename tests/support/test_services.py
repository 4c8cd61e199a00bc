"""Tickets through the services: references, the order they concern, the SLA clock and its
pauses, escalation, auto-close, reopening, rating, merging and events."""

import datetime as dt

import pytest
from django.core import mail

from bigstock.models import PartnerEvent
from partners.audit import Actor
from support import services
from support.models import Message, Priority, SlaState, Status, Ticket
from tests.factories import MembershipFactory, PartnerFactory
from tests.support.conftest import make_order, paris

pytestmark = pytest.mark.django_db

MONDAY_10 = paris(2026, 3, 2, 10, 0)  # plan: 8 business hours first response, 24 resolution


def test_references_follow_a_per_year_sequence(open_ticket):
    first = open_ticket(now=paris(2026, 12, 31, 23, 0))
    second = open_ticket(now=paris(2026, 12, 31, 23, 30))
    next_year = open_ticket(now=paris(2027, 1, 1, 0, 30))  # still 2026 in UTC: the year is Paris's
    assert [first.reference, second.reference, next_year.reference] == ["T-2026-00001", "T-2026-00002",
                                                                         "T-2027-00001"]


def test_due_times_come_from_the_plan_in_business_hours(open_ticket):
    ticket = open_ticket(now=MONDAY_10)
    assert (ticket.first_response_target_hours, ticket.resolution_target_hours) == (8, 24)
    assert ticket.first_response_due_at == paris(2026, 3, 2, 18, 0)
    assert ticket.resolution_due_at == paris(2026, 3, 4, 16, 0)
    assert ticket.sla_due_at == ticket.first_response_due_at
    assert ticket.status == Status.OPEN and ticket.messages.count() == 1


def test_a_partner_without_a_plan_gets_the_default_targets(settings):
    settings.BIGSTOCK_SUPPORT_DEFAULT_FIRST_RESPONSE_HOURS = 48
    member = MembershipFactory()
    ticket = services.open_ticket(partner=member.partner, actor=Actor(user=member.user), subject="Hello",
                                  body="Hi", category="other", now=MONDAY_10)
    assert ticket.plan is None and ticket.first_response_target_hours == 48


def test_the_order_must_be_the_partners_own(partner, open_ticket):
    mine = make_order(partner, reference="MINE-1")
    theirs = make_order(PartnerFactory(), reference="THEIRS-1")
    assert services.find_order(partner=partner, reference="MINE-1") == mine
    assert services.find_order(partner=partner, reference=mine.public_id) == mine
    assert services.find_order(partner=partner, reference="  ") is None
    for reference in ("THEIRS-1", theirs.public_id, "NOPE"):
        with pytest.raises(services.OrderNotFound) as refused:
            services.find_order(partner=partner, reference=reference)
        assert "order" in refused.value.fields
    with pytest.raises(services.OrderNotFound):
        open_ticket(order=theirs)
    assert open_ticket(order=mine).order == mine


def test_subject_and_message_are_required(open_ticket):
    with pytest.raises(services.InvalidTicket) as refused:
        open_ticket(subject=" ", body="")
    assert set(refused.value.fields) == {"subject", "body"}


def test_staff_reply_is_the_first_response_and_waiting_on_the_partner_pauses_the_clock(open_ticket, staff):
    ticket = open_ticket(now=MONDAY_10)
    services.reply_as_staff(ticket=ticket, by=staff, body="Which SKU?", now=paris(2026, 3, 2, 12, 0))
    ticket.refresh_from_db()
    assert ticket.first_response_at == paris(2026, 3, 2, 12, 0)
    assert ticket.first_response_business_s == 2 * 3600
    assert ticket.status == Status.WAITING_ON_PARTNER
    assert ticket.sla_due_at is None and ticket.sla_paused_at == paris(2026, 3, 2, 12, 0)
    assert ticket.sla_state(paris(2026, 3, 20, 12, 0)) == SlaState.PAUSED  # no breach while it waits

    # The partner answers on Thursday 10:00: 22 business hours were left (Mon 12-18, Tue, Wed 9-16).
    services.reply_as_partner(ticket=ticket, body="SKU TEA-1", actor=Actor(user=ticket.opened_by_user),
                              now=paris(2026, 3, 5, 10, 0))
    ticket.refresh_from_db()
    assert ticket.status == Status.WAITING_ON_STAFF and ticket.sla_paused_at is None
    assert ticket.resolution_due_at == paris(2026, 3, 9, 14, 0)  # Thu 8 h + Fri 9 h + Mon 5 h
    assert ticket.sla_due_at == ticket.resolution_due_at


def test_a_target_missed_before_the_pause_stays_missed(open_ticket, staff):
    ticket = open_ticket(now=MONDAY_10)
    late = paris(2026, 3, 9, 10, 0)  # a week later: both targets are past
    services.reply_as_staff(ticket=ticket, by=staff, body="Sorry for the wait", now=late)
    services.reply_as_partner(ticket=ticket, body="Ok", actor=Actor(user=ticket.opened_by_user),
                              now=paris(2026, 3, 10, 10, 0))
    ticket.refresh_from_db()
    assert ticket.resolution_due_at == paris(2026, 3, 4, 16, 0)
    assert ticket.first_response_breached and ticket.sla_state(paris(2026, 3, 10, 10, 0)) == SlaState.BREACHED


def test_escalation_fires_once_per_target(open_ticket, staff, django_capture_on_commit_callbacks):
    ticket = open_ticket(now=MONDAY_10)  # first response due Monday 18:00, escalated from 16:00
    assert services.escalate_due_tickets(now=paris(2026, 3, 2, 15, 0)) == 0

    with django_capture_on_commit_callbacks(execute=True):
        assert services.escalate_due_tickets(now=paris(2026, 3, 2, 16, 30)) == 1
    ticket.refresh_from_db()
    assert ticket.priority == Priority.HIGH and ticket.first_response_escalated_at == paris(2026, 3, 2, 16, 30)
    [email] = mail.outbox
    assert set(email.to) == {"team@bigstock.example", "lead@bigstock.example"}
    assert "Escaladé" in email.subject and ticket.reference in email.subject
    assert email.reply_to == []  # a reply to an internal email must never reach the partner
    note = ticket.messages.get(is_internal=True)
    assert "first response" in note.body

    for later in (paris(2026, 3, 2, 17, 0), paris(2026, 3, 3, 10, 0)):  # again, and once breached
        with django_capture_on_commit_callbacks(execute=True):
            assert services.escalate_due_tickets(now=later) == 0
    ticket.refresh_from_db()
    assert ticket.priority == Priority.HIGH and len(mail.outbox) == 1

    # Answered: the resolution target escalates once in its turn.
    services.reply_as_staff(ticket=ticket, by=staff, body="On it", then=Status.WAITING_ON_STAFF,
                            now=paris(2026, 3, 3, 10, 0))
    assert services.escalate_due_tickets(now=paris(2026, 3, 4, 14, 30)) == 1
    assert services.escalate_due_tickets(now=paris(2026, 3, 5, 14, 30)) == 0
    ticket.refresh_from_db()
    assert ticket.priority == Priority.URGENT and ticket.resolution_escalated_at is not None


def test_tickets_waiting_on_the_partner_are_not_escalated(open_ticket, staff):
    ticket = open_ticket(now=MONDAY_10)
    services.reply_as_staff(ticket=ticket, by=staff, body="Which SKU?", now=paris(2026, 3, 2, 11, 0))
    assert services.escalate_due_tickets(now=paris(2026, 3, 20, 12, 0)) == 0


def test_escalation_tells_the_assignee(open_ticket, staff, django_capture_on_commit_callbacks):
    ticket = open_ticket(now=MONDAY_10)
    services.assign_ticket(ticket=ticket, assignee=staff, by=staff)
    with django_capture_on_commit_callbacks(execute=True):
        services.escalate_due_tickets(now=paris(2026, 3, 2, 17, 0))
    assert set(mail.outbox[-1].to) == {staff.email, "lead@bigstock.example"}


def test_a_resolved_ticket_closes_after_seven_days_without_a_reply(open_ticket, staff, django_capture_on_commit_callbacks):
    ticket = open_ticket(now=MONDAY_10)
    services.reply_as_staff(ticket=ticket, by=staff, body="Fixed", then=Status.RESOLVED, now=paris(2026, 3, 2, 11, 0))
    assert services.close_resolved_tickets(now=paris(2026, 3, 8, 11, 0)) == 0
    with django_capture_on_commit_callbacks(execute=True):
        assert services.close_resolved_tickets(now=paris(2026, 3, 9, 12, 0)) == 1
    ticket.refresh_from_db()
    assert ticket.status == Status.CLOSED and ticket.closed_at == paris(2026, 3, 9, 12, 0)
    assert "Rate our answer" in mail.outbox[-1].body


def test_a_partner_reply_reopens_a_resolved_ticket_so_it_does_not_close(open_ticket, staff):
    ticket = open_ticket(now=MONDAY_10)
    services.reply_as_staff(ticket=ticket, by=staff, body="Fixed", then=Status.RESOLVED, now=paris(2026, 3, 2, 11, 0))
    services.reply_as_partner(ticket=ticket, body="Not fixed", actor=Actor(user=ticket.opened_by_user),
                              now=paris(2026, 3, 4, 11, 0))
    ticket.refresh_from_db()
    assert ticket.status == Status.WAITING_ON_STAFF and ticket.resolved_at is None
    assert services.close_resolved_tickets(now=paris(2026, 3, 20, 11, 0)) == 0


def test_reopening_resolved_and_recently_closed_tickets(open_ticket, staff, settings):
    actor = Actor()
    ticket = open_ticket(now=MONDAY_10)
    with pytest.raises(services.TicketNotReopenable):
        services.reopen_ticket(ticket=ticket, actor=actor)
    services.reply_as_staff(ticket=ticket, by=staff, body="Fixed", then=Status.RESOLVED, now=paris(2026, 3, 2, 11, 0))
    ticket = services.reopen_ticket(ticket=ticket, actor=actor, now=paris(2026, 3, 3, 11, 0))
    assert ticket.status == Status.WAITING_ON_STAFF and ticket.resolved_at is None and ticket.sla_due_at

    services.close_ticket(ticket=ticket, by=staff, now=paris(2026, 3, 3, 12, 0))
    ticket = services.reopen_ticket(ticket=ticket, actor=actor, body="It broke again", now=paris(2026, 3, 20, 9, 0))
    assert ticket.status == Status.WAITING_ON_STAFF and ticket.closed_at is None
    assert ticket.messages.filter(body="It broke again", is_internal=False).exists()

    services.close_ticket(ticket=ticket, by=staff, now=paris(2026, 3, 21, 12, 0))
    too_late = paris(2026, 3, 21, 12, 0) + dt.timedelta(days=settings.BIGSTOCK_SUPPORT_REOPEN_DAYS + 1)
    with pytest.raises(services.TicketNotReopenable, match="open a new ticket"):
        services.reopen_ticket(ticket=ticket, actor=actor, now=too_late)


def test_a_reply_to_a_closed_ticket_is_refused_and_says_what_to_do(open_ticket, staff):
    ticket = open_ticket()
    services.close_ticket(ticket=ticket, by=staff)
    with pytest.raises(services.TicketClosed) as refused:
        services.reply_as_partner(ticket=ticket, body="Hello?", actor=Actor())
    assert "Reopen the ticket or open a new one" in refused.value.message
    assert refused.value.details == {"can_reopen": True}
    assert ticket.messages.count() == 1 + 1  # the first message and the "closed" internal note


def test_rating_after_closing_only(open_ticket, staff):
    ticket = open_ticket()
    with pytest.raises(services.TicketNotRateable):
        services.rate_ticket(ticket=ticket, rating=5, actor=Actor())
    services.close_ticket(ticket=ticket, by=staff)
    with pytest.raises(services.InvalidTicket):
        services.rate_ticket(ticket=ticket, rating=6, actor=Actor())
    ticket = services.rate_ticket(ticket=ticket, rating=4, comment=" Quick ", actor=Actor())
    assert (ticket.rating, ticket.rating_comment) == (4, "Quick")


def test_merging_moves_the_thread_and_closes_the_duplicate(open_ticket, staff, partner):
    original = open_ticket(subject="Double delivery")
    duplicate = open_ticket(subject="Double delivery again", body="Again!")
    services.merge_tickets(duplicate=duplicate, into=original, by=staff)
    duplicate.refresh_from_db()
    assert duplicate.merged_into == original and duplicate.status == Status.CLOSED
    assert original.messages.filter(body="Again!").exists()
    assert duplicate.messages.get().body.startswith("This ticket duplicates")
    with pytest.raises(services.TicketMerged):
        services.reply_as_partner(ticket=duplicate, body="Hi", actor=Actor())

    other = MembershipFactory()
    foreign = services.open_ticket(partner=other.partner, actor=Actor(user=other.user), subject="x", body="y",
                                   category="other")
    with pytest.raises(services.InvalidTicket):
        services.merge_tickets(duplicate=foreign, into=original, by=staff)


def test_events_never_carry_internal_notes(open_ticket, staff, partner):
    ticket = open_ticket()
    services.reply_as_staff(ticket=ticket, by=staff, body="SECRET staff-only remark", internal=True)
    services.reply_as_staff(ticket=ticket, by=staff, body="Here is the fix", then=Status.RESOLVED)
    events = list(PartnerEvent.objects.filter(partner=partner, type__startswith="ticket.").order_by("pk"))
    assert [event.type for event in events] == ["ticket.created", "ticket.replied", "ticket.resolved"]
    assert events[1].payload["message"]["body"] == "Here is the fix"
    assert events[1].payload["message"]["author"] == "staff"
    assert not any("SECRET" in str(event.payload) for event in events)


def test_assignment_is_for_staff_and_leaves_a_note(open_ticket, staff, owner):
    ticket = open_ticket()
    with pytest.raises(services.InvalidTicket):
        services.assign_ticket(ticket=ticket, assignee=owner.user, by=staff)
    ticket = services.assign_ticket(ticket=ticket, assignee=staff, by=staff)
    assert ticket.assignee == staff
    assert Message.objects.filter(ticket=ticket, is_internal=True, body__startswith="Assigned to").exists()


def test_the_queue_puts_the_soonest_due_first_and_paused_tickets_last(open_ticket, staff):
    late = open_ticket(now=paris(2026, 3, 2, 9, 0))
    paused = open_ticket(now=paris(2026, 3, 2, 8, 0))
    services.reply_as_staff(ticket=paused, by=staff, body="?", now=paris(2026, 3, 2, 9, 30))
    later = open_ticket(now=paris(2026, 3, 2, 15, 0))
    assert list(Ticket.objects.queue_order()) == [late, later, paused]
