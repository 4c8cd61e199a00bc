"""Support tickets: a thread of messages between a partner and BigStock staff, with
attachments, internal staff notes and an SLA from the partner's plan (``support.sla``).

Every row carries its partner (``PartnerOwned``). Internal notes (``Message.is_internal``)
and their attachments are for staff: every partner-facing read goes through
``Message.objects.visible_to_partner()`` / ``Attachment.objects.visible_to_partner()``.
"""

import datetime as dt
import os

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from bigstock.ids import public_id_field
from bigstock.tenancy import PartnerOwned, PartnerQuerySet

from .sla import add_business_hours
from .storage import attachment_storage


class Category(models.TextChoices):
    ORDER = "order", _("An order")
    STOCK = "stock", _("Stock and catalogue")
    BILLING = "billing", _("Billing")
    TECHNICAL = "technical", _("Technical (API, portal)")
    OTHER = "other", _("Other")


class Priority(models.TextChoices):
    NORMAL = "normal", _("Normal")
    HIGH = "high", _("High")
    URGENT = "urgent", _("Urgent")


PRIORITY_ORDER = [Priority.NORMAL, Priority.HIGH, Priority.URGENT]


class Status(models.TextChoices):
    OPEN = "open", _("Open")
    WAITING_ON_STAFF = "waiting_on_staff", _("Waiting on BigStock")
    WAITING_ON_PARTNER = "waiting_on_partner", _("Waiting on the partner")
    RESOLVED = "resolved", _("Resolved")
    CLOSED = "closed", _("Closed")


# How partners read a status, where it differs from the staff wording.
PARTNER_STATUS_LABELS = {Status.WAITING_ON_PARTNER: _("Waiting on you")}


def partner_status_choices() -> list[tuple[str, str]]:
    return [(value, PARTNER_STATUS_LABELS.get(value, label)) for value, label in Status.choices]


# The SLA clock runs only while BigStock has the next move.
CLOCK_RUNNING = frozenset({Status.OPEN, Status.WAITING_ON_STAFF})


class SlaState(models.TextChoices):
    BREACHED = "breached", _("Breached")
    AT_RISK = "at_risk", _("Due soon")
    ON_TRACK = "on_track", _("On track")
    PAUSED = "paused", _("Paused")
    DONE = "done", _("Done")


class TicketSequence(models.Model):
    """The last reference number given in a year: one row per year, locked while a ticket takes one."""

    year = models.PositiveSmallIntegerField(_("year"), unique=True)
    last_number = models.PositiveIntegerField(_("last number"), default=0)

    class Meta:
        verbose_name = _("ticket sequence")
        verbose_name_plural = _("ticket sequences")

    def __str__(self) -> str:
        return f"T-{self.year}: {self.last_number}"


class TicketQuerySet(PartnerQuerySet):
    def queue_order(self):
        """The staff queue: the soonest SLA due first, tickets whose clock is paused last."""
        return self.order_by(models.F("sla_due_at").asc(nulls_last=True), "created_at")


class Ticket(PartnerOwned):
    """A partner's question or problem, with its SLA due times (``support.sla`` business time).

    ``first_response_due_at`` and ``resolution_due_at`` move only when the clock resumes
    after a pause (waiting on the partner, resolved); ``sla_due_at`` is the next one still
    pending while the clock runs, null otherwise: the staff queue sorts on it.
    """

    public_id = public_id_field("tkt")
    reference = models.CharField(_("reference"), max_length=20, unique=True, editable=False)
    subject = models.CharField(_("subject"), max_length=200)
    category = models.CharField(_("category"), max_length=10, choices=Category.choices, default=Category.OTHER)
    priority = models.CharField(_("priority"), max_length=10, choices=Priority.choices, default=Priority.NORMAL)
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.OPEN,
                              db_index=True)
    order = models.ForeignKey("orders.Order", on_delete=models.PROTECT, null=True, blank=True, related_name="+",
                              verbose_name=_("order"))
    opened_by_user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                       related_name="+", verbose_name=_("opened by (user)"))
    opened_by_api_key = models.ForeignKey("partners.ApiKey", on_delete=models.SET_NULL, null=True, blank=True,
                                          related_name="+", verbose_name=_("opened by (API key)"))
    opened_by_label = models.CharField(_("opened by"), max_length=200)
    assignee = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                 related_name="assigned_tickets", limit_choices_to={"is_staff": True},
                                 verbose_name=_("assignee"))
    # The SLA promised when the ticket was opened: the plan of that day.
    plan = models.ForeignKey("subscriptions.Plan", on_delete=models.SET_NULL, null=True, blank=True,
                             related_name="+", verbose_name=_("plan"))
    first_response_target_hours = models.PositiveSmallIntegerField(_("first response target (business hours)"))
    resolution_target_hours = models.PositiveSmallIntegerField(_("resolution target (business hours)"))
    first_response_due_at = models.DateTimeField(_("first response due"))
    resolution_due_at = models.DateTimeField(_("resolution due"))
    sla_due_at = models.DateTimeField(_("next SLA due"), null=True, blank=True, db_index=True)
    sla_paused_at = models.DateTimeField(_("SLA clock paused since"), null=True, blank=True)
    first_response_escalated_at = models.DateTimeField(_("first response escalated"), null=True, blank=True)
    resolution_escalated_at = models.DateTimeField(_("resolution escalated"), null=True, blank=True)
    first_response_at = models.DateTimeField(_("first response"), null=True, blank=True)
    first_response_business_s = models.PositiveIntegerField(_("first response time (business seconds)"),
                                                            null=True, blank=True)
    resolved_at = models.DateTimeField(_("resolved"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)
    last_message_at = models.DateTimeField(_("last message"), default=timezone.now)
    merged_into = models.ForeignKey("self", on_delete=models.PROTECT, null=True, blank=True,
                                    related_name="merged_tickets", verbose_name=_("merged into"))
    rating = models.PositiveSmallIntegerField(_("rating"), null=True, blank=True)
    rating_comment = models.TextField(_("rating comment"), blank=True)
    rated_at = models.DateTimeField(_("rated"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    objects = TicketQuerySet.as_manager()

    class Meta:
        verbose_name = _("ticket")
        verbose_name_plural = _("tickets")
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=Q(rating__isnull=True) | Q(rating__gte=1, rating__lte=5),
                                   name="ticket_rating_1_to_5"),
        ]
        indexes = [models.Index(fields=["partner", "status", "last_message_at"], name="ticket_partner_status")]

    def __str__(self) -> str:
        return f"{self.reference} {self.subject}"

    @property
    def partner_status_label(self) -> str:
        return str(PARTNER_STATUS_LABELS.get(self.status, self.get_status_display()))

    @property
    def clock_running(self) -> bool:
        return self.status in CLOCK_RUNNING

    @property
    def is_closed(self) -> bool:
        return self.status == Status.CLOSED

    @property
    def is_open(self) -> bool:
        return self.status not in (Status.RESOLVED, Status.CLOSED)

    def can_reopen(self, now: dt.datetime | None = None) -> bool:
        """A resolved ticket until it closes; a closed one for ``BIGSTOCK_SUPPORT_REOPEN_DAYS`` (not a merged one)."""
        if self.merged_into_id is not None:
            return False
        if self.status == Status.RESOLVED:
            return True
        if self.status == Status.CLOSED and self.closed_at is not None:
            window = dt.timedelta(days=settings.BIGSTOCK_SUPPORT_REOPEN_DAYS)
            return (now or timezone.now()) <= self.closed_at + window
        return False

    @property
    def can_rate(self) -> bool:
        return self.status == Status.CLOSED and self.merged_into_id is None

    @property
    def first_response_breached(self) -> bool:
        return _breached(self.first_response_due_at, self.first_response_at, self.sla_paused_at)

    @property
    def resolution_breached(self) -> bool:
        return _breached(self.resolution_due_at, self.resolved_at, self.sla_paused_at)

    def sla_state(self, now: dt.datetime | None = None) -> str:
        """For the breach markers of the staff queue and the partner's ticket page."""
        now = now or timezone.now()
        if self.first_response_breached or (self.first_response_at and self.resolution_breached):
            return SlaState.BREACHED
        if self.resolved_at is not None or self.is_closed:
            return SlaState.DONE
        if self.sla_due_at is None:
            return SlaState.PAUSED
        if self.sla_due_at <= add_business_hours(now, settings.BIGSTOCK_SUPPORT_ESCALATE_BEFORE_HOURS):
            return SlaState.AT_RISK
        return SlaState.ON_TRACK


def _breached(due_at, done_at, paused_at, now=None) -> bool:
    """Done after the due time, or not done and the due time passed while the clock ran."""
    if due_at is None:
        return False
    if done_at is not None:
        return done_at > due_at
    if paused_at is not None and paused_at <= due_at:
        return False
    return (now or timezone.now()) > due_at


def breached_q(due: str, done: str, now: dt.datetime) -> Q:
    """``_breached`` as a database filter (for the figures)."""
    return Q(**{f"{done}__gt": models.F(due)}) | (
        Q(**{f"{done}__isnull": True, f"{due}__lt": now})
        & ~Q(sla_paused_at__isnull=False, sla_paused_at__lte=models.F(due))
    )


class MessageQuerySet(PartnerQuerySet):
    def visible_to_partner(self):
        """Never internal notes: every partner-facing read (portal, API, email) starts here."""
        return self.filter(is_internal=False)


class Message(PartnerOwned):
    """One message of a ticket's thread: from the partner, from staff, or a staff-only internal note."""

    class Source(models.TextChoices):
        PORTAL = "portal", _("Portal")
        API = "api", _("API")
        EMAIL = "email", _("Email")
        STAFF = "staff", _("Staff screens")
        SYSTEM = "system", _("BigStock")

    public_id = public_id_field("msg")
    ticket = models.ForeignKey(Ticket, on_delete=models.PROTECT, related_name="messages",
                               verbose_name=_("ticket"))
    author_user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                    related_name="+", verbose_name=_("author (user)"))
    author_api_key = models.ForeignKey("partners.ApiKey", on_delete=models.SET_NULL, null=True, blank=True,
                                       related_name="+", verbose_name=_("author (API key)"))
    author_label = models.CharField(_("author"), max_length=200)
    from_staff = models.BooleanField(_("from BigStock"), default=False)
    is_internal = models.BooleanField(_("internal note"), default=False,
                                      help_text=_("Visible to BigStock staff only."))
    body = models.TextField(_("message"))
    source = models.CharField(_("sent from"), max_length=10, choices=Source.choices, default=Source.PORTAL)
    email_message_id = models.CharField(_("Message-ID"), max_length=255, blank=True, db_index=True)
    created_at = models.DateTimeField(_("time"), default=timezone.now, db_index=True)

    objects = MessageQuerySet.as_manager()

    class Meta:
        verbose_name = _("message")
        verbose_name_plural = _("messages")
        ordering = ["created_at", "pk"]
        constraints = [
            models.CheckConstraint(condition=Q(is_internal=False) | Q(from_staff=True),
                                   name="message_internal_notes_are_staff"),
        ]

    def __str__(self) -> str:
        kind = _("internal note") if self.is_internal else _("message")
        return f"{kind} {self.public_id} ({self.author_label})"


def attachment_path(attachment: "Attachment", filename: str) -> str:
    """Under the partner and the ticket; the stored name is the attachment's id, never the sender's."""
    extension = os.path.splitext(filename)[1].lower()[:10]
    return f"tickets/{attachment.partner.public_id}/{attachment.ticket.public_id}/{attachment.public_id}{extension}"


class AttachmentQuerySet(PartnerQuerySet):
    def visible_to_partner(self):
        return self.filter(message__is_internal=False)


class Attachment(PartnerOwned):
    """A file sent with a message: checked by content (``support.attachments``), served only
    through ``support.views.AttachmentView`` (partner) and the staff screens."""

    public_id = public_id_field("att")
    ticket = models.ForeignKey(Ticket, on_delete=models.PROTECT, related_name="attachments",
                               verbose_name=_("ticket"))
    message = models.ForeignKey(Message, on_delete=models.PROTECT, related_name="attachments",
                                verbose_name=_("message"))
    file = models.FileField(_("file"), upload_to=attachment_path, storage=attachment_storage, max_length=300)
    filename = models.CharField(_("file name"), max_length=200)
    content_type = models.CharField(_("type"), max_length=120)
    size_bytes = models.PositiveIntegerField(_("size (bytes)"))
    sha256 = models.CharField(_("SHA-256"), max_length=64)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    objects = AttachmentQuerySet.as_manager()

    class Meta:
        verbose_name = _("attachment")
        verbose_name_plural = _("attachments")
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return self.filename


class CannedReply(models.Model):
    """A ready-made answer staff pick in the reply form, then edit before sending."""

    title = models.CharField(_("title"), max_length=120)
    body = models.TextField(_("text"))
    is_active = models.BooleanField(_("offered"), default=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("canned reply")
        verbose_name_plural = _("canned replies")
        ordering = ["title"]

    def __str__(self) -> str:
        return self.title


class InboundEmail(models.Model):
    """Every email received at the support address and what became of it (the log staff read)."""

    class Outcome(models.TextChoices):
        THREADED = "threaded", _("Added to the ticket")
        AUTO_REPLY = "auto_reply", _("Ignored: automatic message")
        DUPLICATE = "duplicate", _("Ignored: already received")
        NO_TICKET = "no_ticket", _("No ticket: not a reply to a ticket")
        BAD_TOKEN = "bad_token", _("No ticket: the reply address was tampered with")
        UNKNOWN_SENDER = "unknown_sender", _("Not added: unknown sender")
        TICKET_CLOSED = "ticket_closed", _("Not added: the ticket is closed")
        EMPTY = "empty", _("Not added: no text")

    partner = models.ForeignKey("partners.Partner", on_delete=models.PROTECT, null=True, blank=True,
                                related_name="+", verbose_name=_("partner"))
    ticket = models.ForeignKey(Ticket, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
                               verbose_name=_("ticket"))
    message = models.ForeignKey(Message, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
                                verbose_name=_("message"))
    email_message_id = models.CharField(_("Message-ID"), max_length=255, blank=True, db_index=True)
    from_address = models.CharField(_("from"), max_length=254, blank=True)
    to_addresses = models.TextField(_("to"), blank=True)
    subject = models.CharField(_("subject"), max_length=255, blank=True)
    outcome = models.CharField(_("outcome"), max_length=20, choices=Outcome.choices)
    note = models.TextField(_("note"), blank=True)
    body_excerpt = models.TextField(_("text"), blank=True)
    size_bytes = models.PositiveIntegerField(_("size (bytes)"), default=0)
    received_at = models.DateTimeField(_("received"), auto_now_add=True, db_index=True)

    objects = PartnerQuerySet.as_manager()

    class Meta:
        verbose_name = _("inbound email")
        verbose_name_plural = _("inbound emails")
        ordering = ["-received_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.from_address}: {self.subject}"
