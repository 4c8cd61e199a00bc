from django.db import models
from django.utils.translation import gettext_lazy as _

from .ids import public_id_field
from .tenancy import PartnerOwned


class IdempotencyRecord(models.Model):
    """The stored outcome of a POST sent with an ``Idempotency-Key`` header.

    ``scope`` is the calling principal, so two callers may use the same key. A record with
    no ``response_status`` is a request still running (or one whose process died: it is
    taken over after ``STALE_AFTER``).
    """

    scope = models.CharField(_("caller"), max_length=80)
    key = models.CharField(_("idempotency key"), max_length=255)
    method = models.CharField(_("HTTP method"), max_length=10)
    path = models.CharField(_("path"), max_length=500)
    request_hash = models.CharField(_("request hash"), max_length=64)
    response_status = models.PositiveSmallIntegerField(_("response status code"), null=True, blank=True)
    response_body = models.JSONField(_("response body"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("idempotency record")
        verbose_name_plural = _("idempotency records")
        constraints = [models.UniqueConstraint(fields=["scope", "key"], name="idempotency_unique_scope_key")]

    def __str__(self) -> str:
        return f"{self.scope} {self.key}"


class PartnerEvent(PartnerOwned):
    """Something that happened to a partner's data (``order.created``, ``stock.changed``...).

    Written by ``bigstock.events.publish`` in the same transaction as the change (an outbox).
    Partners poll ``GET /api/v1/events?after=<cursor>``: webhooks may be lost, this list is not.
    """

    public_id = public_id_field("evt")
    type = models.CharField(_("type"), max_length=60)
    payload = models.JSONField(_("payload"), default=dict)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("event")
        verbose_name_plural = _("events")
        indexes = [models.Index(fields=["partner", "id"], name="event_partner_id"),
                   models.Index(fields=["type"], name="event_type")]  # no pattern-matching twin (db_index)

    def __str__(self) -> str:
        return f"{self.type} {self.public_id}"


class WebhookEndpoint(PartnerOwned):
    """A partner's URL that receives signed event deliveries (Standard Webhooks)."""

    public_id = public_id_field("whe")
    url = models.URLField(_("URL"), max_length=500)
    description = models.CharField(_("description"), max_length=200, blank=True)
    event_types = models.JSONField(_("event types"), default=list, blank=True, help_text=_("Empty: every event."))
    enabled = models.BooleanField(_("enabled"), default=True)
    secret = models.CharField(_("signing secret"), max_length=80, editable=False)
    failing_since = models.DateTimeField(_("failing since"), null=True, blank=True)
    disabled_reason = models.CharField(_("reason for disabling"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("webhook endpoint")
        verbose_name_plural = _("webhook endpoints")

    def __str__(self) -> str:
        return self.url

    # Why BigStock disabled the endpoint, kept as a code and written out in the reader's language.
    DISABLED_REASONS = {
        "gone": _("The endpoint answered 410 Gone: it no longer accepts webhooks."),
        "failing": _("Every delivery has failed for more than 24 hours."),
    }

    def wants(self, event_type: str) -> bool:
        return not self.event_types or event_type in self.event_types

    @property
    def disabled_reason_text(self) -> str:
        """The reason in the active language (a text stored before reasons were codes, as it was written)."""
        return str(self.DISABLED_REASONS.get(self.disabled_reason, self.disabled_reason))


class WebhookDelivery(PartnerOwned):
    """One event to one endpoint, attempted until it succeeds, fails for good or is cancelled."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        SUCCEEDED = "succeeded", _("Delivered")
        FAILED = "failed", _("Failed")

    public_id = public_id_field("whd")
    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries",
                                 verbose_name=_("webhook endpoint"))
    event = models.ForeignKey(PartnerEvent, on_delete=models.CASCADE, related_name="deliveries",
                              verbose_name=_("event"))
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.PENDING,
                              db_index=True)
    attempt_count = models.PositiveSmallIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt"), null=True, blank=True, db_index=True)
    locked_until = models.DateTimeField(_("locked until"), null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(_("last response status code"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")

    def __str__(self) -> str:
        return f"{self.event.type} → {self.endpoint.url} ({self.status})"


class WebhookAttempt(models.Model):
    """One HTTP request of a delivery: what came back and how long it took."""

    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="attempts",
                                 verbose_name=_("webhook delivery"))
    attempted_at = models.DateTimeField(_("attempted at"), auto_now_add=True)
    status_code = models.PositiveSmallIntegerField(_("response status code"), null=True, blank=True)
    duration_ms = models.PositiveIntegerField(_("duration (ms)"), default=0)
    response_body = models.TextField(_("response body"), blank=True)
    error = models.CharField(_("error"), max_length=300, blank=True)

    class Meta:
        verbose_name = _("webhook delivery attempt")
        verbose_name_plural = _("webhook delivery attempts")
        ordering = ["-attempted_at", "-id"]

    def __str__(self) -> str:
        return f"{self.delivery_id} {self.status_code or self.error}"
