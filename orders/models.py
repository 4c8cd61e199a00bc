"""Orders of partners' end customers: lines, reservations, pre-shipment checks, timeline,
shipments and tracking. The state machine is in ``orders.states``."""

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django_countries.fields import CountryField

from bigstock.ids import public_id_field
from bigstock.tenancy import PartnerOwned


class Status(models.TextChoices):
    SUBMITTED = "submitted", _("Submitted")
    CHECKING = "checking", _("Checking")
    ON_HOLD = "on_hold", _("On hold")
    READY = "ready", _("Ready")
    PICKING = "picking", _("Picking")
    PACKED = "packed", _("Packed")
    SHIPPED = "shipped", _("Shipped")
    DELIVERED = "delivered", _("Delivered")
    CANCELLED = "cancelled", _("Cancelled")
    RETURNED = "returned", _("Returned")


class CarrierService(models.TextChoices):
    STANDARD = "standard", _("Standard")
    EXPRESS = "express", _("Express")
    ECONOMY = "economy", _("Economy")


class DispatchState(models.TextChoices):
    """Where the order is in the processing queues (the database is the record of what waits)."""

    WAITING = "waiting", _("Waiting for a worker")
    HELD = "held", _("Held: partner standing")
    QUEUED = "queued", _("Queued")
    DONE = "done", _("Processed")


class Order(PartnerOwned):
    public_id = public_id_field("ord")
    reference = models.CharField(_("your reference"), max_length=64)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.SUBMITTED)
    ship_to_name = models.CharField(_("recipient name"), max_length=200)
    ship_to_company = models.CharField(_("company"), max_length=200, blank=True)
    ship_to_line1 = models.CharField(_("address"), max_length=200)
    ship_to_line2 = models.CharField(_("address (continued)"), max_length=200, blank=True)
    ship_to_postcode = models.CharField(_("postcode"), max_length=20)
    ship_to_city = models.CharField(_("city"), max_length=100)
    ship_to_country = CountryField(_("country"))
    ship_to_phone = models.CharField(_("phone"), max_length=30, blank=True)
    ship_to_email = models.EmailField(_("email"), blank=True)
    notes = models.TextField(_("notes"), blank=True)
    carrier_service = models.CharField(_("carrier service"), max_length=10, choices=CarrierService.choices,
                                       default=CarrierService.STANDARD)
    backorder = models.BooleanField(_("backorder missing quantities"), default=False)
    source = models.CharField(_("source"), max_length=10, default="api")  # api, portal, csv
    currency = models.CharField(_("currency"), max_length=3, default="EUR")
    subtotal_cents = models.PositiveIntegerField(_("subtotal excl. VAT (cents)"), default=0)
    # Processing: which queue, and when each step happened (the delays are measured from these).
    dispatch_state = models.CharField(_("processing state"), max_length=8, choices=DispatchState.choices,
                                      default=DispatchState.WAITING)
    queue = models.CharField(_("queue"), max_length=10, blank=True)
    dispatched_at = models.DateTimeField(_("queued at"), null=True, blank=True)
    submitted_at = models.DateTimeField(_("submitted at"), auto_now_add=True, db_index=True)
    checked_at = models.DateTimeField(_("checked at"), null=True, blank=True)
    shipped_at = models.DateTimeField(_("shipped at"), null=True, blank=True)
    delivered_at = models.DateTimeField(_("delivered at"), null=True, blank=True)
    cancelled_at = models.DateTimeField(_("cancelled at"), null=True, blank=True)
    created_by_label = models.CharField(_("created by"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("order")
        verbose_name_plural = _("orders")
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["partner", "reference"], name="order_unique_partner_reference"),
        ]
        indexes = [
            models.Index(fields=["dispatch_state", "partner", "created_at"], name="order_dispatch"),
            models.Index(fields=["partner", "status", "created_at"], name="order_partner_status"),
            models.Index(fields=["status"], name="order_status"),  # no pattern-matching twin (db_index)
        ]

    def __str__(self) -> str:
        return f"{self.reference} ({self.public_id})"


class OrderLine(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines", verbose_name=_("order"))
    product = models.ForeignKey("inventory.Product", on_delete=models.PROTECT, related_name="+",
                                verbose_name=_("product"))
    sku = models.CharField(_("SKU"), max_length=64)
    quantity = models.PositiveIntegerField(_("quantity"))
    quantity_reserved = models.PositiveIntegerField(_("quantity reserved"), default=0)
    quantity_shipped = models.PositiveIntegerField(_("quantity shipped"), default=0)
    unit_price_cents = models.PositiveIntegerField(_("unit price excl. VAT (cents)"),
                                                   help_text=_("The partner's price at submission, frozen."))
    position = models.PositiveSmallIntegerField(_("position"), default=0)

    class Meta:
        verbose_name = _("order line")
        verbose_name_plural = _("order lines")
        ordering = ["position", "pk"]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="order_line_positive"),
            models.CheckConstraint(condition=Q(quantity_reserved__lte=models.F("quantity")),
                                   name="order_line_reserved_within_quantity"),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} x {self.sku}"

    @property
    def amount_cents(self) -> int:
        return self.quantity * self.unit_price_cents

    @property
    def quantity_backordered(self) -> int:
        return self.quantity - self.quantity_reserved


class Reservation(models.Model):
    """Units of a line held in one warehouse: released on cancel, consumed when shipped."""

    class State(models.TextChoices):
        HELD = "held", _("Held")
        RELEASED = "released", _("Released")
        SHIPPED = "shipped", _("Shipped")

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="reservations",
                              verbose_name=_("order"))
    line = models.ForeignKey(OrderLine, on_delete=models.CASCADE, related_name="reservations",
                             verbose_name=_("order line"))
    level = models.ForeignKey("inventory.StockLevel", on_delete=models.PROTECT, related_name="+",
                              verbose_name=_("stock level"))
    warehouse_code = models.CharField(_("warehouse code"), max_length=20)
    quantity = models.PositiveIntegerField(_("quantity"))
    state = models.CharField(_("state"), max_length=8, choices=State.choices, default=State.HELD)

    class Meta:
        verbose_name = _("reservation")
        verbose_name_plural = _("reservations")

    def __str__(self) -> str:
        return f"{self.quantity} x {self.line.sku} @ {self.warehouse_code} ({self.state})"


class CheckResult(models.Model):
    """One pre-shipment check's outcome for one run of the checks on an order."""

    class Severity(models.TextChoices):
        BLOCK = "block", _("Blocks the order")
        WARN = "warn", _("Warning")

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="check_results",
                              verbose_name=_("order"))
    run = models.PositiveSmallIntegerField(_("run"), default=1)
    check_name = models.CharField(_("check"), max_length=40)
    code = models.CharField(_("code"), max_length=40)
    passed = models.BooleanField(_("passed"))
    severity = models.CharField(_("severity"), max_length=5, choices=Severity.choices)
    params = models.JSONField(_("parameters"), default=dict, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("check result")
        verbose_name_plural = _("check results")
        ordering = ["-run", "pk"]

    def __str__(self) -> str:
        return f"{self.check_name}: {self.code}"

    @property
    def message(self) -> str:
        from .checks import message_for

        return message_for(self.code, self.params)

    @property
    def action(self) -> str:
        from .checks import action_for

        return action_for(self.code, self.params)


class OrderEvent(models.Model):
    """The order's timeline: every transition with who, when and why."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="timeline",
                              verbose_name=_("order"))
    from_status = models.CharField(_("from status"), max_length=10, blank=True)
    to_status = models.CharField(_("to status"), max_length=10)
    actor_label = models.CharField(_("actor"), max_length=200)
    reason = models.CharField(_("reason"), max_length=500, blank=True)  # as a person wrote it
    # Or a reason BigStock gave (``orders.timeline``), written out in the reader's language.
    reason_code = models.CharField(_("reason code"), max_length=40, blank=True)
    reason_params = models.JSONField(_("reason parameters"), default=dict, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("order event")
        verbose_name_plural = _("order events")
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return f"{self.from_status} → {self.to_status}"

    @property
    def reason_text(self) -> str:
        from .timeline import text

        return text(self.reason_code, self.reason_params) if self.reason_code else self.reason


class Shipment(PartnerOwned):
    public_id = public_id_field("shp")
    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="shipments",
                              verbose_name=_("order"))
    warehouse_code = models.CharField(_("warehouse code"), max_length=20)
    carrier = models.CharField(_("carrier"), max_length=60)
    service = models.CharField(_("service"), max_length=10, choices=CarrierService.choices,
                               default=CarrierService.STANDARD)
    tracking_number = models.CharField(_("tracking number"), max_length=100)
    tracking_url = models.URLField(_("tracking URL"), blank=True)
    weight_g = models.PositiveIntegerField(_("weight (g)"), default=0)
    shipped_at = models.DateTimeField(_("shipped at"), auto_now_add=True)
    delivered_at = models.DateTimeField(_("delivered at"), null=True, blank=True)

    class Meta:
        verbose_name = _("shipment")
        verbose_name_plural = _("shipments")
        ordering = ["shipped_at", "pk"]

    def __str__(self) -> str:
        return f"{self.carrier} {self.tracking_number}"


class ShipmentLine(models.Model):
    shipment = models.ForeignKey(Shipment, on_delete=models.CASCADE, related_name="lines",
                                 verbose_name=_("shipment"))
    line = models.ForeignKey(OrderLine, on_delete=models.PROTECT, related_name="shipment_lines",
                             verbose_name=_("order line"))
    quantity = models.PositiveIntegerField(_("quantity"))

    class Meta:
        verbose_name = _("shipment line")
        verbose_name_plural = _("shipment lines")

    def __str__(self) -> str:
        return f"{self.quantity} x {self.line.sku}"


class TrackingEvent(models.Model):
    class Kind(models.TextChoices):
        IN_TRANSIT = "in_transit", _("In transit")
        OUT_FOR_DELIVERY = "out_for_delivery", _("Out for delivery")
        DELIVERED = "delivered", _("Delivered")
        EXCEPTION = "exception", _("Delivery problem")

    shipment = models.ForeignKey(Shipment, on_delete=models.CASCADE, related_name="tracking",
                                 verbose_name=_("shipment"))
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    description = models.CharField(_("description"), max_length=300, blank=True)
    location = models.CharField(_("location"), max_length=200, blank=True)
    occurred_at = models.DateTimeField(_("occurred at"))
    source = models.CharField(_("source"), max_length=20, default="staff")  # staff, api, carrier
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("tracking event")
        verbose_name_plural = _("tracking events")
        ordering = ["occurred_at", "pk"]

    def __str__(self) -> str:
        return f"{self.kind} {self.occurred_at}"


# --- Partner CSV imports (portal): added with orders/imports.py --------------------------------


class OrderImport(PartnerOwned):
    """A partner's CSV of orders. Every line was validated in the request (nothing is stored when
    any line is wrong); ``orders`` holds what to submit, one entry per reference, and a Celery task
    submits them one by one. ``processed`` moves in the same transaction as each submission, so a
    retried task never submits an order twice; ``created`` and ``failures`` are the result."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Submitting")
        DONE = "done", _("Done")

    public_id = public_id_field("oim")
    filename = models.CharField(_("file name"), max_length=200)
    status = models.CharField(_("status"), max_length=8, choices=Status.choices, default=Status.QUEUED)
    total = models.PositiveIntegerField(_("orders"), default=0)
    processed = models.PositiveIntegerField(_("processed"), default=0)
    orders = models.JSONField(_("orders to submit"), default=list, blank=True)
    # [{"reference", "id", "lines"}]
    created = models.JSONField(_("orders created"), default=list, blank=True)
    # [{"reference", "lines", "sku", "message"}]
    failures = models.JSONField(_("failures"), default=list, blank=True)
    language = models.CharField(_("language of the messages"), max_length=8, default="fr")
    created_by = models.ForeignKey("partners.User", on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="+", verbose_name=_("by"))
    created_at = models.DateTimeField(_("uploaded at"), auto_now_add=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        verbose_name = _("order import")
        verbose_name_plural = _("order imports")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.filename} ({self.public_id})"

    @property
    def is_finished(self) -> bool:
        return self.status == self.Status.DONE

    @property
    def percent(self) -> int:
        return round(100 * self.processed / self.total) if self.total else 100
