"""Email into tickets: a raw RFC 822 message (from ``manage.py support_inbound`` or the inbound
endpoint) becomes a message of the ticket its reply address names, or a line in the log staff
read (``InboundEmail``), never both and never a loop.

* The ticket comes only from the signed token of the reply address (``support.emails``): a
  sender cannot pick a ticket by writing its reference.
* The sender must be a staff member or a member of that ticket's partner; anyone else is
  logged (``unknown_sender``) and gets no answer (no backscatter).
* Automatic mail is never answered nor threaded: ``Auto-Submitted`` other than ``no``,
  ``Precedence: bulk/junk/list/auto_reply``, ``X-Autoreply``/``X-Autorespond``, mailing lists,
  delivery reports, mail from our own addresses or carrying our ``X-BigStock-Ticket`` header.
* The quoted history below the "reply above this line" marker is cut off.
"""

import datetime as dt
import logging
import re
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import getaddresses, parseaddr

from django.conf import settings
from django.core import signing
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone
from django.utils.html import strip_tags
from django.utils.translation import gettext as _

from bigstock.errors import DomainError
from partners.audit import Actor
from partners.models import Membership, User

from . import attachments, emails, services
from .models import InboundEmail, Message, Status

logger = logging.getLogger(__name__)

AUTOMATIC_PRECEDENCE = {"bulk", "junk", "list", "auto_reply"}
AUTOMATIC_SENDERS = re.compile(r"^(mailer-daemon|postmaster|no-?reply|do-?not-?reply|bounces?)([+@]|$)", re.I)
RECIPIENT_HEADERS = ("To", "Cc", "Delivered-To", "X-Original-To", "Envelope-To", "X-Envelope-To")
_QUOTE_HEADER = re.compile(r"^(On|Le)\b.{0,200}(wrote|a écrit|écrit)\s*:\s*$", re.I)
_FORWARD_SEPARATOR = re.compile(r"^(-{2,}\s*(Original Message|Message d'origine)\s*-{2,}|_{10,})\s*$", re.I)
MAX_EXCERPT = 10_000


def _header(message: EmailMessage, name: str) -> str:
    try:
        return str(message.get(name, "") or "").strip()
    except (ValueError, TypeError, IndexError):  # a malformed header: treat it as absent
        return ""


def automatic_reason(message: EmailMessage) -> str:
    """Why this looks like automatic mail (an empty string when a person wrote it)."""
    auto_submitted = _header(message, "Auto-Submitted").lower()
    if auto_submitted and auto_submitted != "no":
        return f"Auto-Submitted: {auto_submitted}"
    precedence = _header(message, "Precedence").lower()
    if precedence in AUTOMATIC_PRECEDENCE:
        return f"Precedence: {precedence}"
    for name in ("X-Autoreply", "X-Autorespond", "X-Auto-Reply"):
        if _header(message, name) and _header(message, name).lower() != "no":
            return f"{name}: {_header(message, name)}"
    for name in ("List-Id", "List-Unsubscribe", "X-BigStock-Ticket"):
        if _header(message, name):
            return name
    if message.get_content_type() == "multipart/report" or _header(message, "Return-Path") == "<>":
        return _("delivery report")
    sender = parseaddr(_header(message, "From"))[1].lower()
    if sender in emails.own_addresses() or AUTOMATIC_SENDERS.match(sender) or emails.TOKEN_PATTERN.search(sender):
        return _("sent by an automatic address (%(sender)s)") % {"sender": sender}
    return ""


def reply_token(message: EmailMessage) -> str:
    for name in RECIPIENT_HEADERS:
        for _name, address in getaddresses(message.get_all(name, []) or []):
            found = emails.TOKEN_PATTERN.search(address)
            if found:
                return found.group(1)
    return ""


def visible_text(text: str) -> str:
    """What the person wrote: above our marker, without the quoted history of the thread."""
    lines = []
    for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        if "Reply above this line" in line or "Répondez au-dessus de cette ligne" in line:
            break
        if _FORWARD_SEPARATOR.match(line.strip()):
            break
        lines.append(line.rstrip())
    while lines and (not lines[-1].strip() or lines[-1].lstrip().startswith(">")):
        lines.pop()
    if lines and _QUOTE_HEADER.match(lines[-1].strip()):
        lines.pop()
    return "\n".join(lines).strip()


def _text(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    try:
        content = part.get_content()
    except (LookupError, ValueError):  # an unknown charset
        content = (part.get_payload(decode=True) or b"").decode("utf-8", errors="replace")
    if part.get_content_type() == "text/html":
        content = re.sub(r"(?i)<br\s*/?>|</p>|</div>", "\n", content)
        content = strip_tags(content)
    return visible_text(content)


def _files(message: EmailMessage) -> tuple[list, list[str]]:
    """The attached files that pass the checks, and a line per refused one."""
    accepted, refused = [], []
    for part in message.iter_attachments():
        filename = part.get_filename() or ""
        if not filename:
            continue
        data = part.get_payload(decode=True) or b""
        try:
            accepted.append(attachments.check_file(ContentFile(data, name=filename)).file)
        except attachments.AttachmentRefused as error:
            refused.append(error.message)
    limit = settings.BIGSTOCK_SUPPORT_MAX_ATTACHMENTS
    if len(accepted) > limit:
        refused.append(_("Only the first %(limit)d files were kept.") % {"limit": limit})
        accepted = accepted[:limit]
    return accepted, refused


def receive(raw: bytes, *, now: dt.datetime | None = None) -> InboundEmail:
    """Thread the email onto its ticket, or log why not. Always returns the log entry."""
    message = BytesParser(policy=policy.default).parsebytes(raw)
    record = InboundEmail(
        email_message_id=_header(message, "Message-ID")[:255],
        from_address=parseaddr(_header(message, "From"))[1].lower()[:254],
        to_addresses=", ".join(address for name in ("To", "Cc") for _n, address in
                               getaddresses(message.get_all(name, []) or []))[:2000],
        subject=_header(message, "Subject")[:255],
        size_bytes=len(raw),
    )
    try:
        _process(message, record, now=now or timezone.now())
    finally:
        record.save()
    logger.info("inbound email %s", record.outcome,
                extra={"partner": record.partner_id, "ticket": record.ticket_id, "inbound_email": record.pk})
    return record


def _process(message: EmailMessage, record: InboundEmail, *, now: dt.datetime) -> None:
    Outcome = InboundEmail.Outcome
    reason = automatic_reason(message)
    if reason:
        record.outcome, record.note = Outcome.AUTO_REPLY, reason
        return
    if record.email_message_id and (Message.objects.filter(email_message_id=record.email_message_id).exists()
                              or InboundEmail.objects.filter(email_message_id=record.email_message_id,
                                                             outcome=Outcome.THREADED).exists()):
        record.outcome = Outcome.DUPLICATE
        return
    record.body_excerpt = _text(message)[:MAX_EXCERPT]
    token = reply_token(message)
    if not token:
        record.outcome = Outcome.NO_TICKET
        record.note = _("Not sent to a ticket's reply address.")
        return
    try:
        ticket = emails.ticket_for_token(token)
    except signing.BadSignature:
        ticket = None
    if ticket is None:
        record.outcome = Outcome.BAD_TOKEN
        return
    while ticket.merged_into_id is not None:  # the conversation continues on the ticket it was merged into
        ticket = ticket.merged_into
    sender = User.objects.filter(email__iexact=record.from_address, is_active=True).first()
    is_staff = sender is not None and sender.is_staff
    if sender is None or not (is_staff or Membership.objects.filter(user=sender, partner=ticket.partner).exists()):
        record.outcome = Outcome.UNKNOWN_SENDER
        record.note = _("The reply address of %(reference)s, but the sender is neither staff nor a member of "
                        "%(partner)s.") % {"reference": ticket.reference, "partner": ticket.partner}
        return
    record.partner, record.ticket = ticket.partner, ticket
    files, refused = _files(message)
    record.note = "\n".join(refused)
    if not record.body_excerpt and not files:
        record.outcome = Outcome.EMPTY
        return
    body = record.body_excerpt or _("(files only)")
    try:
        with transaction.atomic():
            if is_staff:
                then = Status.RESOLVED if ticket.status == Status.RESOLVED else Status.WAITING_ON_PARTNER
                created = services.reply_as_staff(ticket=ticket, body=body, by=sender, files=files, then=then,
                                                  source=Message.Source.EMAIL, email_message_id=record.email_message_id,
                                                  now=now)
            else:
                created = services.reply_as_partner(ticket=ticket, body=body, actor=Actor(user=sender), files=files,
                                                    source=Message.Source.EMAIL,
                                                    email_message_id=record.email_message_id, now=now)
    except services.TicketClosed as error:
        record.outcome = Outcome.TICKET_CLOSED
        record.note = "\n".join(filter(None, [error.message, record.note]))
        if not is_staff and not _told_recently(record, now):
            emails.send_closed_notice(ticket=ticket, to=record.from_address)
        return
    except DomainError as error:  # e.g. every file refused and no text: say why in the log
        record.outcome = Outcome.EMPTY
        record.note = "\n".join(filter(None, [error.message, record.note]))
        return
    record.outcome, record.message = Outcome.THREADED, created


def _told_recently(record: InboundEmail, now: dt.datetime) -> bool:
    """One closed-ticket notice a day per sender and ticket, whatever they send."""
    return InboundEmail.objects.filter(
        ticket=record.ticket, from_address=record.from_address, outcome=InboundEmail.Outcome.TICKET_CLOSED,
        received_at__gte=now - dt.timedelta(days=1),
    ).exists()
