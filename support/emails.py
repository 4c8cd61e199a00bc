"""Support emails, both ways out: partners hear of staff replies, staff of partner messages,
escalations and assignments.

* Every email to a partner carries a reply address with a signed ticket token
  (``support+t-2026-00042.<signature>@…``): answering it threads onto the ticket
  (``support.inbound``). The token is lower-case hex, as mail systems may change the case.
* Every email we send says ``Auto-Submitted: auto-generated`` (RFC 3834), so auto-responders
  stay silent, and carries ``X-BigStock-Ticket``, so one that comes back is recognised.
* Internal notes are never sent to a partner, and nobody is told of their own message.
"""

import re
from email.utils import parseaddr

from django.conf import settings
from django.core import signing
from django.core.mail import EmailMessage
from django.urls import reverse
from django.utils.crypto import salted_hmac

from bigstock import mail
from partners.models import Role, User

from .models import Message, Status, Ticket

# The line partners answer above; inbound mail is cut there (it is in both languages on purpose).
REPLY_ABOVE = "—— Répondez au-dessus de cette ligne · Reply above this line ——"
TOKEN_PATTERN = re.compile(r"\+(t-\d{4}-\d{5,}\.[0-9a-f]{24})@", re.IGNORECASE)


class _HexSigner(signing.Signer):
    """django.core.signing with a hex signature: safe in an email address whatever its case."""

    def signature(self, value, key=None):
        return salted_hmac(self.salt + "signer", value, key or self.key, algorithm=self.algorithm).hexdigest()[:24]


_signer = _HexSigner(salt="support.reply-address", sep=".")


def reply_token(ticket: Ticket) -> str:
    return _signer.sign(ticket.reference.lower())


def ticket_for_token(token: str) -> Ticket | None:
    """The ticket a reply token names; raises ``signing.BadSignature`` for a forged one."""
    reference = _signer.unsign(token.lower())
    return Ticket.objects.select_related("partner", "merged_into").filter(reference__iexact=reference).first()


def _support_address() -> tuple[str, str]:
    address = parseaddr(settings.BIGSTOCK_SUPPORT_EMAIL)[1] or settings.BIGSTOCK_SUPPORT_EMAIL
    local, _sep, domain = address.rpartition("@")
    return local, domain


def reply_address(ticket: Ticket) -> str:
    local, domain = _support_address()
    return f"BigStock Support <{local}+{reply_token(ticket)}@{domain}>"


def own_addresses() -> set[str]:
    """Addresses we send from: mail from them is ours coming back."""
    return {parseaddr(value)[1].lower() for value in (settings.DEFAULT_FROM_EMAIL, settings.SERVER_EMAIL,
                                                       settings.BIGSTOCK_SUPPORT_EMAIL) if value}


# --- Who hears about it --------------------------------------------------------------------------


def partner_recipients(ticket: Ticket, *, exclude: User | None = None) -> list[str]:
    """The people of the partner in the conversation (who opened it, who wrote in it); when an API
    key opened it and nobody wrote, the owners and admins."""
    team = User.objects.filter(is_active=True, memberships__partner_id=ticket.partner_id)
    involved = set(Message.objects.filter(ticket=ticket, from_staff=False, author_user__isnull=False)
                   .values_list("author_user_id", flat=True))
    if ticket.opened_by_user_id:
        involved.add(ticket.opened_by_user_id)
    people = team.filter(pk__in=involved)
    if not people.exists():
        people = team.filter(memberships__role__in=[Role.OWNER, Role.ADMIN])
    if exclude is not None:
        people = people.exclude(pk=exclude.pk)
    return sorted(set(people.values_list("email", flat=True)))


def staff_recipients(ticket: Ticket, *, exclude: User | None = None) -> list[str]:
    """The assignee, or the team address while nobody has the ticket."""
    assignee = ticket.assignee
    if assignee is not None and assignee.is_active:
        emails = [assignee.email]
    else:
        emails = [settings.BIGSTOCK_SUPPORT_TEAM_EMAIL]
    if exclude is not None:
        emails = [email for email in emails if email.lower() != exclude.email.lower()]
    return [email for email in emails if email]


# --- Sending ---------------------------------------------------------------------------------------


def _portal_url(ticket: Ticket) -> str:
    return settings.BIGSTOCK_SITE_URL.rstrip("/") + reverse("support:ticket", kwargs={"public_id": ticket.public_id})


def _admin_url(ticket: Ticket) -> str:
    return settings.BIGSTOCK_SITE_URL.rstrip("/") + reverse("admin:support_ticket_change", args=[ticket.pk])


def _render(template: str, context: dict) -> tuple[str, str]:
    """Subject and body, French then English (``bigstock.mail``); the message itself is quoted once."""
    subject, body = mail.bilingual(f"support/email/{template}", context,
                                   subject_prefix=f"[{context['ticket'].reference}] ")
    return subject, f"{REPLY_ABOVE}\n\n{body}"


def _send(template: str, *, ticket: Ticket, to: list[str], context: dict | None = None,
          auto_submitted: str = "auto-generated", replyable: bool = True) -> int:
    """``replyable``: answering threads onto the ticket as a message the partner sees. Emails about
    internal matters (notes, escalations, assignments) are not: a reply to them must not become public."""
    if not to:
        return 0
    context = {"ticket": ticket, "portal_url": _portal_url(ticket), "admin_url": _admin_url(ticket),
               "site_url": settings.BIGSTOCK_SITE_URL, **(context or {})}
    subject, body = _render(template, context)
    _local, domain = _support_address()
    thread = f"<{ticket.public_id}@{domain}>"
    headers = {"Auto-Submitted": auto_submitted, "X-Auto-Response-Suppress": "All",
               "X-BigStock-Ticket": ticket.reference, "References": thread, "In-Reply-To": thread}
    if not replyable:
        body = body.replace(f"{REPLY_ABOVE}\n\n", "", 1)
    return EmailMessage(subject, body, to=to, reply_to=[reply_address(ticket)] if replyable else [],
                        headers=headers).send()


def notify_message(*, message_id: int) -> int:
    """After a message: staff replies go to the partner's people, partner messages to staff, internal
    notes to the assignee only (when someone else wrote them). Never to the author."""
    message = (Message.objects.select_related("ticket__partner", "ticket__assignee", "ticket__order", "author_user")
               .prefetch_related("attachments").get(pk=message_id))
    ticket, author = message.ticket, message.author_user
    context = {"message": message, "attachments": list(message.attachments.all())}
    if message.is_internal:
        if ticket.assignee is None or (author is not None and author.pk == ticket.assignee_id):
            return 0
        return _send("internal_note", ticket=ticket, to=staff_recipients(ticket, exclude=author), context=context,
                     replyable=False)
    if message.from_staff:
        resolved = ticket.status in (Status.RESOLVED, Status.CLOSED) and ticket.resolved_at == message.created_at
        return _send("staff_reply", ticket=ticket, to=partner_recipients(ticket, exclude=author),
                     context={**context, "resolved": resolved,
                              "auto_close_days": settings.BIGSTOCK_SUPPORT_AUTO_CLOSE_DAYS})
    is_first = not Message.objects.filter(ticket=ticket, created_at__lt=message.created_at).exists()
    return _send("partner_message", ticket=ticket, to=staff_recipients(ticket, exclude=author),
                 context={**context, "is_first": is_first})


def notify_status(*, ticket_id: int, status: str) -> int:
    """Resolved without a message, or closed: the partner is told (and asked to rate when closed)."""
    ticket = Ticket.objects.select_related("partner").get(pk=ticket_id)
    return _send("status", ticket=ticket, to=partner_recipients(ticket),
                 context={"status": status, "closed": status == Status.CLOSED,
                          "auto_close_days": settings.BIGSTOCK_SUPPORT_AUTO_CLOSE_DAYS})


def notify_reopened(*, ticket_id: int) -> int:
    ticket = Ticket.objects.select_related("partner", "assignee").get(pk=ticket_id)
    return _send("reopened", ticket=ticket, to=staff_recipients(ticket))  # staff may answer the partner


def notify_assigned(*, ticket_id: int) -> int:
    ticket = Ticket.objects.select_related("partner", "assignee").get(pk=ticket_id)
    if ticket.assignee is None:
        return 0
    return _send("assigned", ticket=ticket, to=[ticket.assignee.email], replyable=False)


def notify_escalation(*, ticket_id: int, target: str) -> int:
    """To the assignee (or the team) and the support lead."""
    ticket = Ticket.objects.select_related("partner", "assignee").get(pk=ticket_id)
    to = sorted({*staff_recipients(ticket), settings.BIGSTOCK_SUPPORT_LEAD_EMAIL} - {""})
    due = ticket.first_response_due_at if target == "first_response" else ticket.resolution_due_at
    return _send("escalation", ticket=ticket, to=to,
                 context={"target": target, "due": due, "first_response": target == "first_response"},
                 replyable=False)


def send_closed_notice(*, ticket: Ticket, to: str) -> int:
    """The answer to an email sent to a closed ticket: an automatic reply (RFC 3834 ``auto-replied``)."""
    return _send("closed_notice", ticket=ticket, to=[to], auto_submitted="auto-replied",
                 context={"new_ticket_url": settings.BIGSTOCK_SITE_URL.rstrip("/") + reverse("support:new_ticket"),
                          "can_reopen": ticket.can_reopen()})
