"""Support operations: each one transaction, named for what a person does.

The SLA clock (``_move``) runs while BigStock has the next move (``open``,
``waiting_on_staff``) and pauses otherwise; when it resumes, each pending due time moves
by the business time the pause lasted. Notifications are queued after commit
(``support.tasks``); events go to the outbox in the same transaction.
"""

import datetime as dt
import hashlib
import logging

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import formats, timezone
from django.utils.translation import gettext as _

from bigstock import events
from bigstock.errors import Conflict, DomainError
from orders.models import Order
from partners.audit import Actor
from partners.models import Partner, User
from subscriptions.services import current_subscription

from . import attachments, sla
from .attachments import CheckedFile
from .models import (
    CLOCK_RUNNING,
    PRIORITY_ORDER,
    Attachment,
    Message,
    Priority,
    Status,
    Ticket,
    TicketSequence,
)

logger = logging.getLogger(__name__)


class InvalidTicket(DomainError):
    code = "invalid"


class OrderNotFound(DomainError):
    code = "order_not_found"


class TicketClosed(Conflict):
    code = "ticket_closed"


class TicketNotReopenable(Conflict):
    code = "ticket_not_reopenable"


class TicketNotRateable(Conflict):
    code = "ticket_not_closed"


class TicketMerged(Conflict):
    code = "ticket_merged"


STAFF_NEXT_STATUSES = (Status.WAITING_ON_PARTNER, Status.WAITING_ON_STAFF, Status.RESOLVED)


# --- Reads the operations need ----------------------------------------------------------------


def find_order(*, partner: Partner, reference: str) -> Order | None:
    """The partner's own order, by public id (``ord_...``) or by its reference. Blank: none.
    Another partner's order is exactly as unknown as one that does not exist."""
    reference = (reference or "").strip()
    if not reference:
        return None
    order = Order.objects.for_partner(partner).filter(Q(public_id=reference) | Q(reference=reference)).first()
    if order is None:
        message = _("No order %(reference)s in your account.") % {"reference": reference}
        raise OrderNotFound(message, fields={"order": [message]})
    return order


def sla_targets(partner: Partner):
    """(first response hours, resolution hours, plan) from the partner's current plan; defaults without one."""
    subscription = current_subscription(partner)
    if subscription is None:
        return (settings.BIGSTOCK_SUPPORT_DEFAULT_FIRST_RESPONSE_HOURS,
                settings.BIGSTOCK_SUPPORT_DEFAULT_RESOLUTION_HOURS, None)
    plan = subscription.plan
    return plan.support_first_response_hours, plan.support_resolution_hours, plan


def iso(moment: dt.datetime | None) -> str | None:
    return moment.astimezone(dt.UTC).isoformat().replace("+00:00", "Z") if moment else None


def ticket_payload(ticket: Ticket, *, message: Message | None = None) -> dict:
    """What partners receive in ``ticket.*`` events. Never an internal note."""
    data = {
        "id": ticket.public_id,
        "reference": ticket.reference,
        "subject": ticket.subject,
        "status": ticket.status,
        "priority": ticket.priority,
        "category": ticket.category,
        "order": ticket.order.public_id if ticket.order_id else None,
        "created_at": iso(ticket.created_at),
        "first_response_due_at": iso(ticket.first_response_due_at),
        "resolution_due_at": iso(ticket.resolution_due_at),
        "resolved_at": iso(ticket.resolved_at),
    }
    if message is not None and not message.is_internal:
        data["message"] = {
            "id": message.public_id,
            "author": "staff" if message.from_staff else "partner",
            "body": message.body,
            "created_at": iso(message.created_at),
            "attachments": [{"id": a.public_id, "filename": a.filename} for a in message.attachments.all()],
        }
    return data


# --- Building blocks ----------------------------------------------------------------------------


def _next_reference(now: dt.datetime) -> str:
    """``T-2026-00042``: the year's counter row is locked by the UPDATE until the ticket commits."""
    year = now.astimezone(sla.PARIS).year
    if not TicketSequence.objects.filter(year=year).update(last_number=F("last_number") + 1):
        TicketSequence.objects.bulk_create([TicketSequence(year=year)], ignore_conflicts=True)
        TicketSequence.objects.filter(year=year).update(last_number=F("last_number") + 1)
    number = TicketSequence.objects.values_list("last_number", flat=True).get(year=year)
    return f"T-{year}-{number:05d}"


def _lock(ticket: Ticket) -> Ticket:
    return Ticket.objects.select_for_update(of=("self",)).select_related("order", "partner").get(pk=ticket.pk)


def _next_due(ticket: Ticket) -> dt.datetime | None:
    if ticket.status not in CLOCK_RUNNING:
        return None
    if ticket.first_response_at is None:
        return ticket.first_response_due_at
    if ticket.resolved_at is None:
        return ticket.resolution_due_at
    return None


def _resumed(due: dt.datetime, paused_at: dt.datetime, now: dt.datetime) -> dt.datetime:
    """A due time after a pause: the business time that was left, counted again from now.
    A target already breached when the clock stopped stays breached."""
    if due <= paused_at:
        return due
    return sla.add_business_seconds(now, sla.business_seconds_between(paused_at, due))


def _move(ticket: Ticket, status: str, now: dt.datetime) -> None:
    """Change the status and keep the SLA clock right: pause, resume, next due time."""
    was_running, will_run = ticket.status in CLOCK_RUNNING, status in CLOCK_RUNNING
    if was_running and not will_run:
        ticket.sla_paused_at = now
    elif will_run and not was_running and ticket.sla_paused_at is not None:
        if ticket.first_response_at is None:
            ticket.first_response_due_at = _resumed(ticket.first_response_due_at, ticket.sla_paused_at, now)
        if ticket.resolved_at is None:
            ticket.resolution_due_at = _resumed(ticket.resolution_due_at, ticket.sla_paused_at, now)
        ticket.sla_paused_at = None
    ticket.status = status
    ticket.sla_due_at = _next_due(ticket)


def _author_label(actor: Actor, *, from_staff: bool) -> str:
    if actor.api_key is not None:
        return _("API key %(name)s") % {"name": actor.api_key.name}
    if actor.user is None:
        return "BigStock"
    if from_staff:  # partners see a first name, never a staff email address
        return f"{actor.user.first_name or _('Support')} · BigStock"
    return actor.user.get_full_name() or actor.user.email


def _store(message: Message, checked: CheckedFile) -> Attachment:
    digest = hashlib.sha256()
    for chunk in checked.file.chunks():
        digest.update(chunk)
    checked.file.seek(0)
    attachment = Attachment(partner_id=message.partner_id, ticket=message.ticket, message=message,
                            filename=checked.filename, content_type=checked.content_type,
                            size_bytes=checked.size_bytes, sha256=digest.hexdigest())
    attachment.file.save(checked.filename, checked.file, save=False)
    attachment.save()
    return attachment


def _add_message(ticket: Ticket, *, body: str, actor: Actor, now: dt.datetime, from_staff: bool = False,
                 internal: bool = False, source: str = Message.Source.PORTAL, files: list[CheckedFile] = (),
                 email_message_id: str = "", author_label: str = "") -> Message:
    message = Message.objects.create(
        partner_id=ticket.partner_id, ticket=ticket, author_user=actor.user, author_api_key=actor.api_key,
        author_label=(author_label or _author_label(actor, from_staff=from_staff))[:200], from_staff=from_staff,
        is_internal=internal, body=body, source=source, email_message_id=email_message_id[:255], created_at=now,
    )
    for checked in files:
        _store(message, checked)
    if not internal:
        ticket.last_message_at = now
    return message


def _note(ticket: Ticket, text: str, *, by: User | None, now: dt.datetime) -> Message:
    """An internal note written by the system about what staff (or the clock) did."""
    return _add_message(ticket, body=text, actor=Actor(user=by), now=now, from_staff=True, internal=True,
                        source=Message.Source.SYSTEM, author_label=str(by) if by else "BigStock")


def _body(body: str) -> str:
    body = (body or "").strip()
    if not body:
        raise InvalidTicket(_("Write a message."), fields={"body": [_("Write a message.")]})
    return body


def _after_commit(task_name: str, *args) -> None:
    from . import tasks  # tasks import this module

    task = getattr(tasks, task_name)
    transaction.on_commit(lambda: task.delay(*args))


def _local(moment: dt.datetime) -> str:
    return formats.date_format(timezone.localtime(moment, sla.PARIS), "SHORT_DATETIME_FORMAT")


# --- What partners do ------------------------------------------------------------------------------


@transaction.atomic
def open_ticket(*, partner: Partner, subject: str, body: str, category: str, actor: Actor,
                priority: str = Priority.NORMAL, order: Order | None = None, files=(),
                source: str = Message.Source.PORTAL, now: dt.datetime | None = None) -> Ticket:
    """Open a ticket with its first message; its SLA due times come from the partner's plan."""
    subject = (subject or "").strip()
    errors = {}
    if not subject:
        errors["subject"] = [_("Give your ticket a subject.")]
    if not (body or "").strip():
        errors["body"] = [_("Write a message.")]
    if errors:
        raise InvalidTicket(_("Some fields are invalid."), fields=errors)
    if order is not None and order.partner_id != partner.pk:
        raise OrderNotFound(_("This order is not in your account."),
                            fields={"order": [_("This order is not in your account.")]})
    checked = attachments.check_files(files)
    now = now or timezone.now()
    first_hours, resolution_hours, plan = sla_targets(partner)
    ticket = Ticket(
        partner=partner, subject=subject[:200], category=category, priority=priority, order=order,
        opened_by_user=actor.user, opened_by_api_key=actor.api_key,
        opened_by_label=_author_label(actor, from_staff=False)[:200], plan=plan,
        first_response_target_hours=first_hours, resolution_target_hours=resolution_hours,
        first_response_due_at=sla.add_business_hours(now, first_hours),
        resolution_due_at=sla.add_business_hours(now, resolution_hours),
        created_at=now, last_message_at=now,
    )
    ticket.sla_due_at = ticket.first_response_due_at
    ticket.reference = "T-0000-00000"  # validated below, replaced by the real number just before saving
    ticket.full_clean(exclude=["reference", "public_id"])
    ticket.reference = _next_reference(now)
    ticket.save()
    message = _add_message(ticket, body=body.strip(), actor=actor, now=now, source=source, files=checked)
    events.publish(partner=partner, type="ticket.created", data=ticket_payload(ticket, message=message))
    _after_commit("notify_message", message.pk)
    logger.info("ticket opened", extra={"partner": partner.public_id, "ticket": ticket.reference})
    return ticket


@transaction.atomic
def reply_as_partner(*, ticket: Ticket, body: str, actor: Actor, files=(), source: str = Message.Source.PORTAL,
                     email_message_id: str = "", now: dt.datetime | None = None) -> Message:
    """A partner's message: the ticket goes back to BigStock (a resolved one reopens).
    A closed ticket refuses it: the partner reopens it or opens a new one."""
    ticket = _lock(ticket)
    if ticket.merged_into_id is not None:
        raise TicketMerged(_("This ticket was merged into %(reference)s: reply there.")
                           % {"reference": ticket.merged_into.reference}, merged_into=ticket.merged_into.public_id)
    if ticket.is_closed:
        raise TicketClosed(
            _("Ticket %(reference)s is closed, so your message was not sent. Reopen the ticket or open a new one.")
            % {"reference": ticket.reference},
            can_reopen=ticket.can_reopen(),
        )
    body = _body(body)
    checked = attachments.check_files(files)
    now = now or timezone.now()
    if ticket.status != Status.OPEN:
        ticket.resolved_at = None
        _move(ticket, Status.WAITING_ON_STAFF, now)
    message = _add_message(ticket, body=body, actor=actor, now=now, source=source, files=checked,
                           email_message_id=email_message_id)
    ticket.save()
    events.publish(partner=ticket.partner, type="ticket.replied", data=ticket_payload(ticket, message=message))
    _after_commit("notify_message", message.pk)
    return message


@transaction.atomic
def reopen_ticket(*, ticket: Ticket, actor: Actor, body: str = "", files=(), source: str = Message.Source.PORTAL,
                  now: dt.datetime | None = None) -> Ticket:
    """A resolved ticket (or one closed less than ``BIGSTOCK_SUPPORT_REOPEN_DAYS`` ago) goes back to
    BigStock; its resolution clock resumes with the time that was left. With ``body``: reopen and reply."""
    ticket = _lock(ticket)
    now = now or timezone.now()
    if not ticket.can_reopen(now):
        if ticket.is_open:
            raise TicketNotReopenable(_("Ticket %(reference)s is still open.") % {"reference": ticket.reference})
        raise TicketNotReopenable(
            _("Ticket %(reference)s was closed more than %(days)d days ago: open a new ticket.")
            % {"reference": ticket.reference, "days": settings.BIGSTOCK_SUPPORT_REOPEN_DAYS})
    body = (body or "").strip()
    checked = attachments.check_files(files)
    ticket.resolved_at = None
    ticket.closed_at = None
    _move(ticket, Status.WAITING_ON_STAFF, now)
    message = None
    if body:
        message = _add_message(ticket, body=body, actor=actor, now=now, source=source, files=checked)
    _note(ticket, _("Reopened by %(who)s.") % {"who": actor.label}, by=None, now=now)
    ticket.save()
    if message is not None:
        events.publish(partner=ticket.partner, type="ticket.replied", data=ticket_payload(ticket, message=message))
        _after_commit("notify_message", message.pk)
    else:
        _after_commit("notify_reopened", ticket.pk)
    return ticket


@transaction.atomic
def rate_ticket(*, ticket: Ticket, rating: int, comment: str = "", actor: Actor,
                now: dt.datetime | None = None) -> Ticket:
    """1 to 5 and a comment, once the ticket is closed (a new rating replaces the previous one)."""
    ticket = _lock(ticket)
    if not ticket.can_rate:
        raise TicketNotRateable(_("You can rate the answer once the ticket is closed."))
    if rating not in range(1, 6):
        raise InvalidTicket(_("Choose a rating from 1 to 5."), fields={"rating": [_("Choose a rating from 1 to 5.")]})
    ticket.rating = rating
    ticket.rating_comment = (comment or "").strip()[:2000]
    ticket.rated_at = now or timezone.now()
    ticket.save(update_fields=["rating", "rating_comment", "rated_at", "updated_at"])
    return ticket


# --- What staff do ----------------------------------------------------------------------------------


@transaction.atomic
def reply_as_staff(*, ticket: Ticket, body: str, by: User, files=(), internal: bool = False,
                   then: str = Status.WAITING_ON_PARTNER, source: str = Message.Source.STAFF,
                   email_message_id: str = "", now: dt.datetime | None = None) -> Message:
    """A staff answer (first response when it is the first), then the status staff chose; or an
    internal note, which changes nothing the partner can see and is never sent to them."""
    ticket = _lock(ticket)
    body = _body(body)
    checked = attachments.check_files(files)
    now = now or timezone.now()
    if not internal:
        if ticket.merged_into_id is not None:
            raise TicketMerged(_("This ticket was merged into %(reference)s: reply there.")
                               % {"reference": ticket.merged_into.reference})
        if ticket.is_closed:
            raise TicketClosed(_("Ticket %(reference)s is closed: reopen it before replying.")
                               % {"reference": ticket.reference})
        if then not in STAFF_NEXT_STATUSES:
            raise InvalidTicket(_("Choose what happens after the reply."), fields={"then": [_("Not a choice.")]})
        if ticket.first_response_at is None:
            ticket.first_response_at = now
            ticket.first_response_business_s = max(sla.business_seconds_between(ticket.created_at, now), 0)
        if then == Status.RESOLVED:
            ticket.resolved_at = now
        elif ticket.status == Status.RESOLVED:
            ticket.resolved_at = None
        _move(ticket, then, now)
    message = _add_message(ticket, body=body, actor=Actor(user=by), now=now, from_staff=True, internal=internal,
                           source=source, files=checked, email_message_id=email_message_id)
    ticket.save()
    if not internal:
        events.publish(partner=ticket.partner, type="ticket.replied", data=ticket_payload(ticket, message=message))
        if then == Status.RESOLVED:
            events.publish(partner=ticket.partner, type="ticket.resolved", data=ticket_payload(ticket))
    _after_commit("notify_message", message.pk)
    return message


@transaction.atomic
def resolve_ticket(*, ticket: Ticket, by: User, now: dt.datetime | None = None) -> Ticket:
    """Mark resolved without a message (the answer was given elsewhere). The partner is told."""
    ticket = _lock(ticket)
    if not ticket.is_open:
        return ticket
    now = now or timezone.now()
    ticket.resolved_at = now
    _move(ticket, Status.RESOLVED, now)
    _note(ticket, _("Resolved by %(who)s.") % {"who": by}, by=by, now=now)
    ticket.save()
    events.publish(partner=ticket.partner, type="ticket.resolved", data=ticket_payload(ticket))
    _after_commit("notify_status", ticket.pk, Status.RESOLVED)
    return ticket


@transaction.atomic
def close_ticket(*, ticket: Ticket, by: User | None, now: dt.datetime | None = None, notify: bool = True) -> Ticket:
    """Closed for good (reopenable for ``BIGSTOCK_SUPPORT_REOPEN_DAYS``); the partner may rate it."""
    ticket = _lock(ticket)
    if ticket.is_closed:
        return ticket
    now = now or timezone.now()
    was_resolved = ticket.resolved_at is not None
    ticket.resolved_at = ticket.resolved_at or now
    ticket.closed_at = now
    _move(ticket, Status.CLOSED, now)
    _note(ticket, _("Closed by %(who)s.") % {"who": by} if by else _("Closed automatically: no reply for %(days)d days.")
          % {"days": settings.BIGSTOCK_SUPPORT_AUTO_CLOSE_DAYS}, by=by, now=now)
    ticket.save()
    if not was_resolved:
        events.publish(partner=ticket.partner, type="ticket.resolved", data=ticket_payload(ticket))
    if notify:
        _after_commit("notify_status", ticket.pk, Status.CLOSED)
    return ticket


@transaction.atomic
def reopen_as_staff(*, ticket: Ticket, by: User, now: dt.datetime | None = None) -> Ticket:
    ticket = _lock(ticket)
    if ticket.is_open or ticket.merged_into_id is not None:
        return ticket
    now = now or timezone.now()
    ticket.resolved_at = None
    ticket.closed_at = None
    _move(ticket, Status.WAITING_ON_STAFF, now)
    _note(ticket, _("Reopened by %(who)s.") % {"who": by}, by=by, now=now)
    ticket.save()
    return ticket


@transaction.atomic
def assign_ticket(*, ticket: Ticket, assignee: User | None, by: User) -> Ticket:
    """Give the ticket to a staff member (or to nobody); they are told by email."""
    ticket = _lock(ticket)
    if assignee is not None and not (assignee.is_staff and assignee.is_active):
        raise InvalidTicket(_("Tickets are assigned to active staff members only."),
                            fields={"assignee": [_("Not a staff member.")]})
    if ticket.assignee_id == (assignee.pk if assignee else None):
        return ticket
    ticket.assignee = assignee
    now = timezone.now()
    _note(ticket, _("Assigned to %(who)s by %(by)s.") % {"who": assignee, "by": by} if assignee
          else _("Unassigned by %(by)s.") % {"by": by}, by=by, now=now)
    ticket.save()
    if assignee is not None and assignee.pk != by.pk:
        _after_commit("notify_assigned", ticket.pk)
    return ticket


@transaction.atomic
def set_priority(*, ticket: Ticket, priority: str, by: User) -> Ticket:
    ticket = _lock(ticket)
    if priority not in Priority.values:
        raise InvalidTicket(_("Not a priority."), fields={"priority": [_("Not a priority.")]})
    if ticket.priority != priority:
        before = ticket.get_priority_display()
        ticket.priority = priority
        _note(ticket, _("Priority %(before)s → %(after)s by %(by)s.")
              % {"before": before, "after": ticket.get_priority_display(), "by": by}, by=by, now=timezone.now())
        ticket.save()
    return ticket


@transaction.atomic
def merge_tickets(*, duplicate: Ticket, into: Ticket, by: User, now: dt.datetime | None = None) -> Ticket:
    """Move the duplicate's thread into ``into`` and close the duplicate, pointing at ``into``.
    Both must belong to the same partner."""
    if duplicate.pk == into.pk:
        raise InvalidTicket(_("A ticket cannot be merged into itself."))
    first, second = sorted([duplicate, into], key=lambda t: t.pk)
    locked = {t.pk: t for t in (_lock(first), _lock(second))}
    duplicate, into = locked[duplicate.pk], locked[into.pk]
    if duplicate.partner_id != into.partner_id:
        raise InvalidTicket(_("Only tickets of the same partner can be merged."))
    if duplicate.merged_into_id is not None or into.merged_into_id is not None:
        raise TicketMerged(_("One of these tickets was already merged."))
    now = now or timezone.now()
    Message.objects.filter(ticket=duplicate).update(ticket=into)
    Attachment.objects.filter(ticket=duplicate).update(ticket=into)
    into.last_message_at = max(into.last_message_at, duplicate.last_message_at)
    if into.first_response_at is None and duplicate.first_response_at is not None:
        into.first_response_at = duplicate.first_response_at
        into.first_response_business_s = duplicate.first_response_business_s
        into.sla_due_at = _next_due(into)
    _note(into, _("%(duplicate)s (%(subject)s) was merged into this ticket by %(by)s.")
          % {"duplicate": duplicate.reference, "subject": duplicate.subject, "by": by}, by=by, now=now)
    into.save()
    duplicate.merged_into = into
    duplicate.resolved_at = duplicate.resolved_at or now
    duplicate.closed_at = now
    _move(duplicate, Status.CLOSED, now)
    _add_message(duplicate, body=_("This ticket duplicates %(reference)s: the conversation continues there.")
                 % {"reference": into.reference}, actor=Actor(user=by), now=now, from_staff=True,
                 source=Message.Source.SYSTEM)
    duplicate.save()
    return into


# --- What the clock does (periodic tasks) ---------------------------------------------------------


def _escalation_target(ticket: Ticket, threshold: dt.datetime) -> tuple[str, dt.datetime] | None:
    if ticket.status not in CLOCK_RUNNING or ticket.merged_into_id is not None:
        return None
    if ticket.first_response_at is None:
        if ticket.first_response_escalated_at is None and ticket.first_response_due_at <= threshold:
            return "first_response", ticket.first_response_due_at
        return None
    if ticket.resolved_at is None and ticket.resolution_escalated_at is None and ticket.resolution_due_at <= threshold:
        return "resolution", ticket.resolution_due_at
    return None


def _escalation_threshold(now: dt.datetime) -> dt.datetime:
    return sla.add_business_hours(now, settings.BIGSTOCK_SUPPORT_ESCALATE_BEFORE_HOURS)


def escalation_candidates(*, now: dt.datetime) -> list[int]:
    """Tickets whose next target is breached or within ``BIGSTOCK_SUPPORT_ESCALATE_BEFORE_HOURS``
    business hours, and that were not escalated for it yet."""
    threshold = _escalation_threshold(now)
    first = Q(first_response_at__isnull=True, first_response_escalated_at__isnull=True,
              first_response_due_at__lte=threshold)
    resolution = Q(first_response_at__isnull=False, resolved_at__isnull=True, resolution_escalated_at__isnull=True,
                   resolution_due_at__lte=threshold)
    return list(Ticket.objects.filter(first | resolution, status__in=CLOCK_RUNNING, merged_into=None)
                .order_by("sla_due_at").values_list("pk", flat=True))


@transaction.atomic
def escalate_ticket(*, ticket_id: int, now: dt.datetime | None = None) -> str | None:
    """Escalate once per target: raise the priority a step, note it, tell the assignee and the
    support lead. Returns the target escalated, or None when there was nothing (any more) to do."""
    now = now or timezone.now()
    ticket = Ticket.objects.select_for_update().filter(pk=ticket_id).first()
    found = _escalation_target(ticket, _escalation_threshold(now)) if ticket is not None else None
    if found is None:
        return None
    target, due = found
    if target == "first_response":
        ticket.first_response_escalated_at = now
    else:
        ticket.resolution_escalated_at = now
    position = PRIORITY_ORDER.index(ticket.priority)
    ticket.priority = PRIORITY_ORDER[min(position + 1, len(PRIORITY_ORDER) - 1)]
    what = _("first response") if target == "first_response" else _("resolution")
    state = _("breached") if due <= now else _("due soon")
    _note(ticket, _("Escalated: %(what)s due %(due)s (%(state)s). Priority now %(priority)s.")
          % {"what": what, "due": _local(due), "state": state, "priority": ticket.get_priority_display()},
          by=None, now=now)
    ticket.save()
    _after_commit("notify_escalation", ticket.pk, target)
    logger.warning("ticket escalated", extra={"partner": ticket.partner_id, "ticket": ticket.reference,
                                              "target": target})
    return target


def escalate_due_tickets(*, now: dt.datetime | None = None) -> int:
    now = now or timezone.now()
    return sum(1 for ticket_id in escalation_candidates(now=now) if escalate_ticket(ticket_id=ticket_id, now=now))


def close_resolved_tickets(*, now: dt.datetime | None = None) -> int:
    """Resolved tickets with no message for ``BIGSTOCK_SUPPORT_AUTO_CLOSE_DAYS`` days close themselves."""
    now = now or timezone.now()
    cutoff = now - dt.timedelta(days=settings.BIGSTOCK_SUPPORT_AUTO_CLOSE_DAYS)
    ids = list(Ticket.objects.filter(status=Status.RESOLVED, resolved_at__lte=cutoff, last_message_at__lte=cutoff)
               .values_list("pk", flat=True))
    closed = 0
    for ticket_id in ids:
        with transaction.atomic():
            ticket = Ticket.objects.select_for_update().get(pk=ticket_id)
            if ticket.status == Status.RESOLVED and ticket.resolved_at <= cutoff and ticket.last_message_at <= cutoff:
                close_ticket(ticket=ticket, by=None, now=now)
                closed += 1
    return closed
