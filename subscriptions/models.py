"""Plans, subscriptions, invoices, credit notes, payments and the standing they decide.

Money in integer cents, VAT rates as Decimal fractions, periods as Europe/Paris dates with an
exclusive end (``period_end`` is the first day of the next period).
"""

from decimal import Decimal

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from bigstock.i18n import Bilingual
from bigstock.ids import public_id_field
from bigstock.tenancy import PartnerOwned


class Plan(Bilingual, models.Model):
    """A monthly plan, versioned: a new price is a new version; subscribers keep theirs."""

    code = models.SlugField(_("code"), max_length=40)
    version = models.PositiveSmallIntegerField(_("version"), default=1)
    name_fr = models.CharField(_("name (French)"), max_length=80)
    name_en = models.CharField(_("name (English)"), max_length=80)
    description_fr = models.TextField(_("description (French)"), blank=True)
    description_en = models.TextField(_("description (English)"), blank=True)
    price_cents = models.PositiveIntegerField(_("monthly price excl. VAT (cents)"))
    included_orders = models.PositiveIntegerField(_("orders included per month"), help_text=_("A soft limit, never an extra fee."))
    team_seats = models.PositiveSmallIntegerField(_("team seats"))
    api_rate_per_min = models.PositiveIntegerField(_("API requests per minute"))
    wholesale_discount = models.DecimalField(_("wholesale discount"), max_digits=4, decimal_places=3,
                                             default=Decimal("0"), help_text=_("0.050 = 5 %"))
    support_first_response_hours = models.PositiveSmallIntegerField(_("support first response (business hours)"))
    support_resolution_hours = models.PositiveSmallIntegerField(_("support resolution (business hours)"))
    priority_weight = models.PositiveSmallIntegerField(_("queue priority weight"), default=1)
    is_public = models.BooleanField(_("offered to partners"), default=True)
    archived_at = models.DateTimeField(_("archived"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("plan")
        verbose_name_plural = _("plans")
        ordering = ["price_cents", "code", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["code", "version"], name="plan_unique_code_version"),
            models.CheckConstraint(condition=Q(wholesale_discount__gte=0, wholesale_discount__lt=1),
                                   name="plan_discount_fraction"),
        ]

    def __str__(self) -> str:
        return f"{self.name} (v{self.version})"

    @property
    def is_archived(self) -> bool:
        return self.archived_at is not None


class Subscription(PartnerOwned):
    """A partner's monthly subscription. One current (not canceled) subscription per partner."""

    class Status(models.TextChoices):
        INCOMPLETE = "incomplete", _("Incomplete")
        ACTIVE = "active", _("Active")
        PAST_DUE = "past_due", _("Past due")
        SUSPENDED = "suspended", _("Suspended")
        CANCELED = "canceled", _("Canceled")

    class Rail(models.TextChoices):
        MANUAL = "manual", _("Bank transfer")
        STRIPE = "stripe", _("Card or SEPA Direct Debit")

    public_id = public_id_field("sub")
    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, related_name="subscriptions",
                             verbose_name=_("plan"))
    status = models.CharField(_("status"), max_length=12, choices=Status.choices, default=Status.INCOMPLETE,
                              db_index=True)
    rail = models.CharField(_("payment rail"), max_length=10, choices=Rail.choices, default=Rail.MANUAL)
    started_on = models.DateField(_("started on"))
    current_period_start = models.DateField(_("current period start"))
    current_period_end = models.DateField(_("current period end"),
                                          help_text=_("Exclusive: the first day of the next period."))
    cancel_at_period_end = models.BooleanField(_("cancel at period end"), default=False)
    scheduled_plan = models.ForeignKey(Plan, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
                                       help_text=_("A downgrade that takes effect at the end of the period."),
                                       verbose_name=_("scheduled plan"))
    past_due_since = models.DateField(_("past due since"), null=True, blank=True)
    grace_until = models.DateField(_("grace period until"), null=True, blank=True)
    canceled_at = models.DateTimeField(_("canceled at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("subscription")
        verbose_name_plural = _("subscriptions")
        constraints = [
            models.UniqueConstraint(fields=["partner"], condition=~Q(status="canceled"),
                                    name="subscription_one_current_per_partner"),
            models.CheckConstraint(condition=Q(current_period_end__gt=models.F("current_period_start")),
                                   name="subscription_period_not_empty"),
        ]

    def __str__(self) -> str:
        return f"{self.partner} · {self.plan}"


class Invoice(PartnerOwned):
    """A draft until finalized; finalizing numbers it (gapless) and freezes it forever."""

    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        OPEN = "open", _("Awaiting payment")
        PAID = "paid", _("Paid")
        VOID = "void", _("Cancelled by credit note")

    class Kind(models.TextChoices):
        RECURRING = "recurring", _("Monthly subscription")
        PRORATION = "proration", _("Plan change")

    public_id = public_id_field("inv")
    subscription = models.ForeignKey(Subscription, on_delete=models.PROTECT, related_name="invoices",
                                     verbose_name=_("subscription"))
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices, default=Kind.RECURRING)
    number = models.CharField(_("number"), max_length=20, unique=True, null=True, blank=True)
    status = models.CharField(_("status"), max_length=6, choices=Status.choices, default=Status.DRAFT,
                              db_index=True)
    period_start = models.DateField(_("period start"))
    period_end = models.DateField(_("period end"))
    issue_date = models.DateField(_("issue date"), null=True, blank=True)
    due_date = models.DateField(_("due date"), null=True, blank=True, db_index=True)
    currency = models.CharField(_("currency"), max_length=3, default="EUR")
    vat_rate = models.DecimalField(_("VAT rate"), max_digits=5, decimal_places=4, default=Decimal("0.2000"))
    vat_regime = models.CharField(_("VAT regime"), max_length=20, default="fr")
    subtotal_cents = models.IntegerField(_("subtotal excl. VAT (cents)"), default=0)
    vat_cents = models.IntegerField(_("VAT (cents)"), default=0)
    total_cents = models.IntegerField(_("total incl. VAT (cents)"), default=0)
    amount_paid_cents = models.IntegerField(_("amount paid (cents)"), default=0)
    amount_credited_cents = models.IntegerField(_("amount credited (cents)"), default=0)
    seller = models.JSONField(_("seller"), default=dict, blank=True,
                              help_text=_("Seller identity frozen at finalization."))
    buyer = models.JSONField(_("buyer"), default=dict, blank=True,
                             help_text=_("Buyer identity frozen at finalization."))
    pdf = models.FileField(_("PDF"), upload_to="invoices/", blank=True)
    finalized_at = models.DateTimeField(_("finalized at"), null=True, blank=True)
    paid_at = models.DateTimeField(_("paid at"), null=True, blank=True)
    last_reminder_step = models.PositiveSmallIntegerField(_("last reminder step"), default=0)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("invoice")
        verbose_name_plural = _("invoices")
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["subscription", "period_start"], condition=Q(kind="recurring"),
                                    name="invoice_one_recurring_per_period"),
            models.CheckConstraint(condition=Q(number__isnull=True) | ~Q(status="draft"),
                                   name="invoice_draft_has_no_number"),
        ]

    def __str__(self) -> str:
        return self.number or f"draft {self.public_id}"

    @property
    def balance_cents(self) -> int:
        """What the partner still owes (negative: overpaid)."""
        return self.total_cents - self.amount_paid_cents - self.amount_credited_cents

    @property
    def is_overdue(self) -> bool:
        return self.status == self.Status.OPEN and self.due_date is not None and self.due_date < timezone.localdate()


class InvoiceLine(models.Model):
    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="lines",
                                verbose_name=_("invoice"))
    description = models.CharField(_("description"), max_length=300)
    quantity = models.PositiveIntegerField(_("quantity"), default=1)
    unit_price_cents = models.IntegerField(_("unit price excl. VAT (cents)"),
                                           help_text=_("Excl. VAT; negative for a credit line."))
    amount_cents = models.IntegerField(_("amount excl. VAT (cents)"))
    period_start = models.DateField(_("period start"), null=True, blank=True)
    period_end = models.DateField(_("period end"), null=True, blank=True)
    position = models.PositiveSmallIntegerField(_("position"), default=0)

    class Meta:
        verbose_name = _("invoice line")
        verbose_name_plural = _("invoice lines")
        ordering = ["position", "pk"]

    def __str__(self) -> str:
        return self.description


class CreditNote(PartnerOwned):
    """An avoir: cancels all or part of a finalized invoice. Its own gapless series."""

    class Reason(models.TextChoices):
        CANCELLATION = "cancellation", _("Invoice cancelled")
        GOODWILL = "goodwill", _("Commercial gesture")
        PRORATION = "proration", _("Plan change")
        ERROR = "error", _("Invoicing error")

    public_id = public_id_field("cn")
    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="credit_notes",
                                verbose_name=_("invoice"))
    number = models.CharField(_("number"), max_length=20, unique=True)
    reason = models.CharField(_("reason"), max_length=12, choices=Reason.choices)
    description = models.CharField(_("description"), max_length=300)
    issue_date = models.DateField(_("issue date"))
    subtotal_cents = models.PositiveIntegerField(_("subtotal excl. VAT (cents)"))
    vat_cents = models.PositiveIntegerField(_("VAT (cents)"))
    total_cents = models.PositiveIntegerField(_("total incl. VAT (cents)"))
    refunded_cents = models.PositiveIntegerField(_("refunded (cents)"), default=0)
    pdf = models.FileField(_("PDF"), upload_to="credit-notes/", blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("credit note")
        verbose_name_plural = _("credit notes")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.number


class Payment(PartnerOwned):
    """Money received for an invoice. ``(rail, reference)`` is unique: recording twice is a no-op."""

    class Method(models.TextChoices):
        TRANSFER = "transfer", _("Bank transfer")
        CARD = "card", _("Card")
        SEPA = "sepa", _("SEPA Direct Debit")
        CHEQUE = "cheque", _("Cheque")

    public_id = public_id_field("pay")
    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="payments",
                                verbose_name=_("invoice"))
    rail = models.CharField(_("payment rail"), max_length=10, default="manual")
    reference = models.CharField(_("reference"), max_length=100)
    method = models.CharField(_("method"), max_length=10, choices=Method.choices, default=Method.TRANSFER)
    amount_cents = models.PositiveIntegerField(_("amount (cents)"))
    received_on = models.DateField(_("received on"))
    recorded_by = models.ForeignKey("partners.User", on_delete=models.SET_NULL, null=True, blank=True,
                                    related_name="+", verbose_name=_("recorded by"))
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("payment")
        verbose_name_plural = _("payments")
        constraints = [
            models.UniqueConstraint(fields=["rail", "reference"], name="payment_unique_rail_reference"),
            models.CheckConstraint(condition=Q(amount_cents__gt=0), name="payment_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.amount_cents} {self.reference}"


class InvoiceEvent(models.Model):
    """The invoice's timeline: finalized, emailed, reminded, paid, overdue, credited..."""

    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="timeline",
                                verbose_name=_("invoice"))
    kind = models.CharField(_("kind"), max_length=30)
    # Written out by ``subscriptions.history``.
    params = models.JSONField(_("parameters"), default=dict, blank=True)
    # Lines written before ``params``, as written.
    message = models.CharField(_("message"), max_length=300, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("invoice event")
        verbose_name_plural = _("invoice events")
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return f"{self.kind}: {self.text}"

    @property
    def text(self) -> str:
        from .history import text

        return text(self)


class NumberSequence(models.Model):
    """The last number used in a gapless series per year (invoices ``BS``, credit notes ``AV``)."""

    series = models.CharField(_("series"), max_length=4)
    year = models.PositiveSmallIntegerField(_("year"))
    last_number = models.PositiveIntegerField(_("last number"), default=0)

    class Meta:
        verbose_name = _("number sequence")
        verbose_name_plural = _("number sequences")
        constraints = [models.UniqueConstraint(fields=["series", "year"], name="sequence_unique_series_year")]

    def __str__(self) -> str:
        return f"{self.series}-{self.year}: {self.last_number}"


class Standing(models.Model):
    """How a partner is served, and why: derived by ``subscriptions.standing``; read by orders and the API."""

    class Level(models.TextChoices):
        ACTIVE = "active", _("Active")
        GRACE = "grace", _("Grace period")
        INACTIVE = "inactive", _("Inactive")
        SUSPENDED = "suspended", _("Suspended")

    partner = models.OneToOneField("partners.Partner", on_delete=models.CASCADE, related_name="standing",
                                   verbose_name=_("partner"))
    level = models.CharField(_("level"), max_length=10, choices=Level.choices, default=Level.ACTIVE)
    reason = models.CharField(_("reason"), max_length=300, blank=True)
    changed_at = models.DateTimeField(_("changed at"), default=timezone.now)

    class Meta:
        verbose_name = _("standing")
        verbose_name_plural = _("standings")

    def __str__(self) -> str:
        return f"{self.partner}: {self.level}"


class Coupon(models.Model):
    """An introductory offer: a percentage or a fixed amount off, for N monthly invoices."""

    code = models.SlugField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("name shown on invoices"), max_length=100)
    percent_off = models.DecimalField(_("percent off"), max_digits=5, decimal_places=2, null=True, blank=True,
                                      help_text=_("25.00 = 25 %"))
    amount_off_cents = models.PositiveIntegerField(_("amount off (cents, excl. VAT)"), null=True, blank=True)
    duration_months = models.PositiveSmallIntegerField(_("number of monthly invoices"), default=3)
    max_redemptions = models.PositiveIntegerField(_("maximum redemptions"), null=True, blank=True)
    plans = models.ManyToManyField(Plan, blank=True, related_name="coupons",
                                   help_text=_("Empty: every plan."), verbose_name=_("plans"))
    redeem_by = models.DateField(_("redeem by"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("coupon")
        verbose_name_plural = _("coupons")
        constraints = [
            models.CheckConstraint(
                condition=(Q(percent_off__isnull=False, amount_off_cents__isnull=True)
                           | Q(percent_off__isnull=True, amount_off_cents__isnull=False)),
                name="coupon_percent_xor_amount",
            ),
            models.CheckConstraint(condition=Q(percent_off__isnull=True) | Q(percent_off__gt=0, percent_off__lte=100),
                                   name="coupon_percent_range"),
        ]

    def __str__(self) -> str:
        return self.code


class CouponRedemption(PartnerOwned):
    """A coupon applied to a subscription; ``invoices_left`` counts down on each monthly invoice."""

    coupon = models.ForeignKey(Coupon, on_delete=models.PROTECT, related_name="redemptions",
                               verbose_name=_("coupon"))
    subscription = models.OneToOneField(Subscription, on_delete=models.CASCADE, related_name="redemption",
                                        verbose_name=_("subscription"))
    invoices_left = models.PositiveSmallIntegerField(_("invoices left"))
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("coupon redemption")
        verbose_name_plural = _("coupon redemptions")

    def __str__(self) -> str:
        return f"{self.coupon} → {self.subscription}"


class TransitionCampaign(models.Model):
    """The move of legacy (free) partners to paid plans: a date, an offer, and who was told what."""

    name = models.CharField(_("name"), max_length=100)
    transition_date = models.DateField(_("transition date"))
    coupon = models.ForeignKey(Coupon, on_delete=models.PROTECT, null=True, blank=True, verbose_name=_("offer"))
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("transition campaign")
        verbose_name_plural = _("transition campaigns")
        ordering = ["-transition_date"]

    def __str__(self) -> str:
        return self.name


class CampaignNotice(PartnerOwned):
    """One message of the campaign to one partner. Unique: a rerun never sends twice."""

    class Kind(models.TextChoices):
        ANNOUNCEMENT = "announcement", _("Announcement")
        D30 = "d30", _("Reminder D-30")
        D7 = "d7", _("Reminder D-7")
        D1 = "d1", _("Reminder D-1")

    campaign = models.ForeignKey(TransitionCampaign, on_delete=models.CASCADE, related_name="notices",
                                 verbose_name=_("transition campaign"))
    kind = models.CharField(_("kind"), max_length=12, choices=Kind.choices)
    sent_at = models.DateTimeField(_("sent at"), auto_now_add=True)

    class Meta:
        verbose_name = _("campaign notice")
        verbose_name_plural = _("campaign notices")
        constraints = [models.UniqueConstraint(fields=["campaign", "partner", "kind"], name="notice_once")]

    def __str__(self) -> str:
        return f"{self.campaign} {self.partner} {self.kind}"


# --- The Stripe rail (card and SEPA Direct Debit): subscriptions.stripe ----------------------------


class StripeCustomer(PartnerOwned):
    """The partner as a Stripe Customer. One current per partner; a deleted one is kept for history."""

    stripe_id = models.CharField(_("Stripe customer"), max_length=100, unique=True)
    details_hash = models.CharField(_("details hash"), max_length=64, blank=True,
                                    help_text=_("What was last sent to Stripe, to update only on change."))
    synced_at = models.DateTimeField(_("synced"), null=True, blank=True)
    deleted_at = models.DateTimeField(_("deleted in Stripe"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("Stripe customer")
        verbose_name_plural = _("Stripe customers")
        constraints = [models.UniqueConstraint(fields=["partner"], condition=Q(deleted_at=None),
                                               name="stripe_customer_one_current_per_partner")]

    def __str__(self) -> str:
        return self.stripe_id


class StripePaymentMethod(PartnerOwned):
    """The card or SEPA mandate invoices are charged to. One saved per partner; removed ones are kept."""

    class Kind(models.TextChoices):
        CARD = "card", _("Card")
        SEPA_DEBIT = "sepa_debit", _("SEPA Direct Debit")

    customer = models.ForeignKey(StripeCustomer, on_delete=models.PROTECT, related_name="payment_methods",
                                 verbose_name=_("Stripe customer"))
    stripe_id = models.CharField(_("Stripe payment method"), max_length=100, db_index=True)
    kind = models.CharField(_("kind"), max_length=12, choices=Kind.choices)
    brand = models.CharField(_("brand"), max_length=30, blank=True)
    last4 = models.CharField(_("last 4"), max_length=4)
    exp_month = models.PositiveSmallIntegerField(_("expiry month"), null=True, blank=True)
    exp_year = models.PositiveSmallIntegerField(_("expiry year"), null=True, blank=True)
    country = models.CharField(_("country"), max_length=2, blank=True)
    mandate_reference = models.CharField(_("mandate reference"), max_length=100, blank=True)
    mandate_accepted_at = models.DateTimeField(_("mandate accepted"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    removed_at = models.DateTimeField(_("removed"), null=True, blank=True)

    class Meta:
        verbose_name = _("saved payment method")
        verbose_name_plural = _("saved payment methods")
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["partner"], condition=Q(removed_at=None),
                                               name="stripe_method_one_saved_per_partner")]

    def __str__(self) -> str:
        return self.label

    @property
    def label(self) -> str:
        if self.kind == self.Kind.SEPA_DEBIT:
            return f"SEPA {self.country} •••• {self.last4}"
        return f"{self.brand.title() or _('Card')} •••• {self.last4}"

    @property
    def expiry(self) -> str:
        return f"{self.exp_month:02d}/{self.exp_year}" if self.exp_month and self.exp_year else ""


class PaymentAttempt(PartnerOwned):
    """One try at collecting an invoice through Stripe, written before Stripe is called.

    ``(invoice, number)`` is unique and ``public_id`` is the Stripe idempotency key, so a
    repeated request can never charge twice. The outcome comes from Stripe's answer, its
    webhooks or the reconciliation sweep, whichever is first; each re-reads the PaymentIntent.
    """

    class Status(models.TextChoices):
        CREATED = "created", _("Awaiting Stripe's answer")
        PROCESSING = "processing", _("Processing (SEPA debit)")
        REQUIRES_ACTION = "requires_action", _("Awaiting the partner's authentication")
        SUCCEEDED = "succeeded", _("Succeeded")
        FAILED = "failed", _("Declined")
        CANCELED = "canceled", pgettext_lazy("payment attempt", "Canceled")
        ERROR = "error", _("Not collected: Stripe error")

    OPEN_STATUSES = (Status.CREATED, Status.PROCESSING, Status.REQUIRES_ACTION)

    public_id = public_id_field("pat")
    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="payment_attempts",
                                verbose_name=_("invoice"))
    number = models.PositiveSmallIntegerField(_("attempt"))
    amount_cents = models.PositiveIntegerField(_("amount (cents)"))
    currency = models.CharField(_("currency"), max_length=3, default="EUR")
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.CREATED,
                              db_index=True)
    payment_method = models.ForeignKey(StripePaymentMethod, on_delete=models.PROTECT, null=True, blank=True,
                                       related_name="attempts", verbose_name=_("payment method"))
    stripe_payment_intent_id = models.CharField(_("PaymentIntent"), max_length=100, blank=True, db_index=True)
    stripe_charge_id = models.CharField(_("charge"), max_length=100, blank=True)
    failure_code = models.CharField(_("failure code"), max_length=60, blank=True)
    decline_code = models.CharField(_("decline code"), max_length=60, blank=True)
    failure_message = models.CharField(_("failure message"), max_length=300, blank=True)
    is_hard_decline = models.BooleanField(_("hard decline"), default=False)
    error = models.CharField(_("last error"), max_length=500, blank=True)
    reconcile_count = models.PositiveSmallIntegerField(_("reconciliations"), default=0)
    next_retry_at = models.DateTimeField(_("next retry"), null=True, blank=True, db_index=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    settled_at = models.DateTimeField(_("outcome at"), null=True, blank=True)

    class Meta:
        verbose_name = _("payment attempt")
        verbose_name_plural = _("payment attempts")
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["invoice", "number"], name="attempt_unique_invoice_number"),
            models.UniqueConstraint(fields=["stripe_payment_intent_id"], condition=~Q(stripe_payment_intent_id=""),
                                    name="attempt_unique_payment_intent"),
        ]

    def __str__(self) -> str:
        return f"{self.invoice} #{self.number}"

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN_STATUSES


class StripeRefund(PartnerOwned):
    """Money given back on a Stripe payment for a credit note; written before Stripe is called
    (``public_id`` is the idempotency key), its outcome recorded from Stripe's answer and webhooks."""

    class Status(models.TextChoices):
        CREATED = "created", _("Awaiting Stripe's answer")
        PENDING = "pending", _("Pending")
        SUCCEEDED = "succeeded", _("Succeeded")
        FAILED = "failed", _("Failed")
        CANCELED = "canceled", pgettext_lazy("refund", "Canceled")
        ERROR = "error", _("Not sent: Stripe error")

    public_id = public_id_field("rfd")
    credit_note = models.ForeignKey(CreditNote, on_delete=models.PROTECT, related_name="stripe_refunds",
                                    verbose_name=_("credit note"))
    attempt = models.ForeignKey(PaymentAttempt, on_delete=models.PROTECT, related_name="refunds",
                                verbose_name=_("payment attempt"))
    amount_cents = models.PositiveIntegerField(_("amount (cents)"))
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.CREATED)
    stripe_refund_id = models.CharField(_("Stripe refund"), max_length=100, blank=True, db_index=True)
    failure_reason = models.CharField(_("failure reason"), max_length=300, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("Stripe refund")
        verbose_name_plural = _("Stripe refunds")
        ordering = ["-created_at"]
        constraints = [models.CheckConstraint(condition=Q(amount_cents__gt=0), name="stripe_refund_positive")]

    def __str__(self) -> str:
        return f"{self.credit_note} → {self.stripe_refund_id or self.public_id}"


class StripeEvent(models.Model):
    """A webhook received from Stripe, stored once by its Stripe id before anything is done with it."""

    class Status(models.TextChoices):
        RECEIVED = "received", _("Received")
        PROCESSED = "processed", _("Processed")
        IGNORED = "ignored", _("Stored (type not handled)")
        UNMATCHED = "unmatched", _("Unknown customer or payment (reported)")
        FAILED = "failed", _("Failed (retried by the sweep)")

    stripe_id = models.CharField(_("Stripe event"), max_length=100, unique=True)
    type = models.CharField(_("type"), max_length=100, db_index=True)
    api_version = models.CharField(_("API version"), max_length=40, blank=True)
    livemode = models.BooleanField(_("live mode"), default=False)
    object_id = models.CharField(_("object"), max_length=100, blank=True, db_index=True)
    payload = models.JSONField(_("payload"))
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.RECEIVED,
                              db_index=True)
    error = models.CharField(_("last error"), max_length=500, blank=True)
    process_count = models.PositiveSmallIntegerField(_("times processed"), default=0)
    partner = models.ForeignKey("partners.Partner", on_delete=models.SET_NULL, null=True, blank=True,
                                related_name="+", verbose_name=_("partner"))
    received_at = models.DateTimeField(_("received"), auto_now_add=True, db_index=True)
    processed_at = models.DateTimeField(_("processed"), null=True, blank=True)

    class Meta:
        verbose_name = _("Stripe webhook event")
        verbose_name_plural = _("Stripe webhook events")
        ordering = ["-received_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.type} {self.stripe_id}"


class StripeIssue(models.Model):
    """Something staff must look at: Stripe and BigStock disagree, a dispute, an unknown customer."""

    class Kind(models.TextChoices):
        NO_OUTCOME = "no_outcome", _("Attempt without outcome")
        AMOUNT_MISMATCH = "amount_mismatch", _("Amount differs from Stripe")
        PAID_NOT_OPEN = "paid_not_open", _("Paid on Stripe, invoice not open")
        UNKNOWN_CUSTOMER = "unknown_customer", _("Unknown Stripe customer")
        UNKNOWN_PAYMENT = "unknown_payment", _("Unknown Stripe payment")
        OUTSIDE_REFUND = "outside_refund", _("Refund made outside BigStock")
        REFUND_FAILED = "refund_failed", _("Refund failed")
        DISPUTE = "dispute", _("Dispute (chargeback)")
        CUSTOMER_DELETED = "customer_deleted", _("Customer deleted in Stripe")
        STRIPE_ERROR = "stripe_error", _("Stripe refused a request")

    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices, db_index=True)
    stripe_object_id = models.CharField(_("Stripe object"), max_length=100, blank=True)
    message = models.CharField(_("message"), max_length=500)
    partner = models.ForeignKey("partners.Partner", on_delete=models.SET_NULL, null=True, blank=True,
                                related_name="+", verbose_name=_("partner"))
    invoice = models.ForeignKey(Invoice, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
                                verbose_name=_("invoice"))
    attempt = models.ForeignKey(PaymentAttempt, on_delete=models.SET_NULL, null=True, blank=True,
                                related_name="+", verbose_name=_("payment attempt"))
    event = models.ForeignKey(StripeEvent, on_delete=models.SET_NULL, null=True, blank=True,
                              related_name="issues", verbose_name=_("Stripe event"))
    created_at = models.DateTimeField(_("created at"), auto_now_add=True, db_index=True)
    resolved_at = models.DateTimeField(_("resolved"), null=True, blank=True)
    resolved_by = models.ForeignKey("partners.User", on_delete=models.SET_NULL, null=True, blank=True,
                                    related_name="+", verbose_name=_("resolved by"))

    class Meta:
        verbose_name = _("Stripe mismatch or alert")
        verbose_name_plural = _("Stripe mismatches and alerts")
        ordering = ["resolved_at", "-created_at"]
        constraints = [models.UniqueConstraint(fields=["kind", "stripe_object_id"], condition=Q(resolved_at=None),
                                               name="stripe_issue_once_while_open")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.stripe_object_id}"


class MonthlyUsage(PartnerOwned):
    """Orders a partner sent in a calendar month (Europe/Paris), reported by the orders app."""

    month = models.DateField(_("month"), help_text=_("First day of the month."))
    orders = models.PositiveIntegerField(_("orders"), default=0)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("monthly usage")
        verbose_name_plural = _("monthly usage")
        constraints = [models.UniqueConstraint(fields=["partner", "month"], name="usage_unique_partner_month")]

    def __str__(self) -> str:
        return f"{self.partner} {self.month:%Y-%m}: {self.orders}"


class UpgradeSuggestion(PartnerOwned):
    """The plan that fits a partner whose orders exceeded its plan two months running.
    A suggestion only: nothing is ever charged for going over the included volume."""

    from_plan = models.ForeignKey(Plan, on_delete=models.PROTECT, related_name="+",
                                  verbose_name=_("current plan"))
    suggested_plan = models.ForeignKey(Plan, on_delete=models.PROTECT, related_name="+",
                                       verbose_name=_("suggested plan"))
    month = models.DateField(_("month"), help_text=_("The second month over the included volume."))
    volumes = models.JSONField(_("monthly volumes"), default=list)
    dismissed_at = models.DateTimeField(_("dismissed"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("upgrade suggestion")
        verbose_name_plural = _("upgrade suggestions")
        constraints = [models.UniqueConstraint(fields=["partner", "month"], name="suggestion_once_per_month")]

    def __str__(self) -> str:
        return f"{self.partner}: {self.from_plan} → {self.suggested_plan}"
