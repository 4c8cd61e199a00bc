"""BigStock's catalogue and stock: products, warehouses, levels, the append-only ledger,
inbound supply. Not partner-owned (BigStock holds the stock); partners read it through the
feed, and their orders reserve it."""

from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _
from django_countries.fields import CountryField
from knox.models import AuthToken
from stdnum import ean
from stdnum.exceptions import ValidationError as StdnumError

from bigstock.i18n import Bilingual
from bigstock.ids import public_id_field


def validate_gtin(value: str) -> None:
    try:
        ean.validate(value)
    except StdnumError as exc:
        raise ValidationError(_("This GTIN/EAN is not valid: check its length (8, 12, 13 or 14 digits) and check digit."),
                              code="invalid_gtin") from exc


class VatClass(models.TextChoices):
    STANDARD = "standard", _("Standard (20 %)")
    INTERMEDIATE = "intermediate", _("Intermediate (10 %)")
    REDUCED = "reduced", _("Reduced (5.5 %)")
    SUPER_REDUCED = "super_reduced", _("Super-reduced (2.1 %)")


VAT_RATES = {
    VatClass.STANDARD: Decimal("0.20"),
    VatClass.INTERMEDIATE: Decimal("0.10"),
    VatClass.REDUCED: Decimal("0.055"),
    VatClass.SUPER_REDUCED: Decimal("0.021"),
}


class Warehouse(models.Model):
    code = models.SlugField(_("code"), max_length=20, unique=True)
    name = models.CharField(_("name"), max_length=100)
    address = models.CharField(_("address"), max_length=300, blank=True)
    country = CountryField(_("country"), default="FR")
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("warehouse")
        verbose_name_plural = _("warehouses")
        ordering = ["code"]

    def __str__(self) -> str:
        return self.name


class Product(Bilingual, models.Model):
    public_id = public_id_field("prd")
    sku = models.CharField(_("SKU"), max_length=64, unique=True)
    gtin = models.CharField(_("GTIN/EAN"), max_length=14, blank=True, validators=[validate_gtin], db_index=True)
    name_fr = models.CharField(_("name (French)"), max_length=200)
    name_en = models.CharField(_("name (English)"), max_length=200)
    description_fr = models.TextField(_("description (French)"), blank=True)
    description_en = models.TextField(_("description (English)"), blank=True)
    brand = models.CharField(_("brand"), max_length=100, blank=True, db_index=True)
    category = models.CharField(_("category"), max_length=100, blank=True, db_index=True)
    weight_g = models.PositiveIntegerField(_("weight (g)"), default=0)
    length_mm = models.PositiveIntegerField(_("length (mm)"), default=0)
    width_mm = models.PositiveIntegerField(_("width (mm)"), default=0)
    height_mm = models.PositiveIntegerField(_("height (mm)"), default=0)
    country_of_origin = CountryField(_("country of origin"), blank=True)
    hs_code = models.CharField(_("customs (HS) code"), max_length=10, blank=True)
    wholesale_price_cents = models.PositiveIntegerField(_("wholesale price excl. VAT (cents)"))
    retail_price_cents = models.PositiveIntegerField(_("recommended retail price incl. VAT (cents)"), default=0)
    vat_class = models.CharField(_("VAT rate"), max_length=14, choices=VatClass.choices, default=VatClass.STANDARD)
    is_active = models.BooleanField(_("active"), default=True, db_index=True)
    image_url = models.URLField(_("image URL"), blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("product")
        verbose_name_plural = _("products")
        ordering = ["sku"]

    def __str__(self) -> str:
        return f"{self.sku} {self.name}"

    @property
    def vat_rate(self) -> Decimal:
        return VAT_RATES[self.vat_class]


class StockLevel(models.Model):
    """Units of a product in a warehouse: ``available = on_hand - reserved``, never negative.
    Changed only by ``inventory.services``, each change a ``StockMovement`` in the same transaction."""

    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="levels",
                                verbose_name=_("product"))
    warehouse = models.ForeignKey(Warehouse, on_delete=models.PROTECT, related_name="levels",
                                  verbose_name=_("warehouse"))
    on_hand = models.IntegerField(_("on hand"), default=0)
    reserved = models.IntegerField(_("reserved"), default=0)
    reorder_point = models.PositiveIntegerField(_("reorder point"), default=0)
    reorder_target = models.PositiveIntegerField(_("reorder target"), default=0)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("stock level")
        verbose_name_plural = _("stock levels")
        constraints = [
            models.UniqueConstraint(fields=["product", "warehouse"], name="level_unique_product_warehouse"),
            models.CheckConstraint(condition=Q(on_hand__gte=0), name="level_on_hand_not_negative"),
            models.CheckConstraint(condition=Q(reserved__gte=0), name="level_reserved_not_negative"),
            models.CheckConstraint(condition=Q(reserved__lte=F("on_hand")), name="level_reserved_within_on_hand"),
        ]

    def __str__(self) -> str:
        return f"{self.product.sku} @ {self.warehouse.code}"

    @property
    def available(self) -> int:
        return self.on_hand - self.reserved


class ProductAvailability(models.Model):
    """The feed's row for a product: totals over every warehouse, and the ledger position of
    its last change (the feed's change cursor). Kept in the same transaction as the levels."""

    product = models.OneToOneField(Product, on_delete=models.CASCADE, primary_key=True,
                                   related_name="availability", verbose_name=_("product"))
    sku = models.CharField(_("SKU"), max_length=64, unique=True)
    on_hand = models.IntegerField(_("on hand"), default=0)
    reserved = models.IntegerField(_("reserved"), default=0)
    available = models.IntegerField(_("available"), default=0)
    change_seq = models.BigIntegerField(_("ledger position"), default=0, db_index=True)
    changed_at = models.DateTimeField(_("changed at"), auto_now=True)

    class Meta:
        verbose_name = _("product availability")
        verbose_name_plural = _("product availability")

    def __str__(self) -> str:
        return f"{self.sku}: {self.available}"


class StockMovement(models.Model):
    """One change to one stock level. Append-only: never updated, never deleted."""

    class Kind(models.TextChoices):
        RECEIPT = "receipt", _("Receipt")
        ADJUSTMENT = "adjustment", _("Adjustment")
        RESERVATION = "reservation", _("Reservation")
        RELEASE = "release", _("Release")
        SHIPMENT = "shipment", _("Shipment")
        RETURN = "return", _("Return")
        COUNT = "count", _("Stocktake")

    level = models.ForeignKey(StockLevel, on_delete=models.PROTECT, related_name="movements",
                              verbose_name=_("stock level"))
    kind = models.CharField(_("kind"), max_length=12, choices=Kind.choices)
    on_hand_delta = models.IntegerField(_("on hand change"), default=0)
    reserved_delta = models.IntegerField(_("reserved change"), default=0)
    on_hand_after = models.IntegerField(_("on hand after"))
    reserved_after = models.IntegerField(_("reserved after"))
    reason = models.CharField(_("reason"), max_length=300, blank=True)
    actor_label = models.CharField(_("by"), max_length=200)
    partner = models.ForeignKey("partners.Partner", on_delete=models.PROTECT, null=True, blank=True,
                                related_name="+", verbose_name=_("partner"))
    reference_type = models.CharField(_("reference type"), max_length=30, blank=True)
    reference_id = models.CharField(_("reference"), max_length=60, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("stock movement")
        verbose_name_plural = _("stock movements")
        ordering = ["-id"]
        # Plain indexes: a CharField's db_index adds a second, pattern-matching one on PostgreSQL
        # (``_like``) that no query uses, and every stock change writes its movements' entries.
        indexes = [models.Index(fields=["kind"], name="movement_kind"),
                   models.Index(fields=["reference_id"], name="movement_reference")]

    def __str__(self) -> str:
        return f"{self.kind} {self.on_hand_delta:+d}/{self.reserved_delta:+d} {self.level}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise ValueError("stock movements are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValueError("stock movements are append-only")


class Receipt(models.Model):
    """Inbound supply from a supplier: expected on a date, received in one or more deliveries."""

    class Status(models.TextChoices):
        EXPECTED = "expected", _("Expected")
        PARTIAL = "partial", _("Partly received")
        RECEIVED = "received", _("Received")
        CANCELLED = "cancelled", _("Cancelled")

    public_id = public_id_field("rcp")
    supplier = models.CharField(_("supplier"), max_length=200)
    reference = models.CharField(_("supplier reference"), max_length=100, blank=True)
    warehouse = models.ForeignKey(Warehouse, on_delete=models.PROTECT, related_name="receipts",
                                  verbose_name=_("warehouse"))
    expected_on = models.DateField(_("expected on"), db_index=True)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.EXPECTED)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("receipt")
        verbose_name_plural = _("receipts")
        ordering = ["expected_on"]

    def __str__(self) -> str:
        return f"{self.supplier} {self.reference} ({self.expected_on})"


class ReceiptLine(models.Model):
    receipt = models.ForeignKey(Receipt, on_delete=models.CASCADE, related_name="lines",
                                verbose_name=_("receipt"))
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="incoming",
                                verbose_name=_("product"))
    quantity_expected = models.PositiveIntegerField(_("expected"))
    quantity_received = models.PositiveIntegerField(_("received"), default=0)

    class Meta:
        verbose_name = _("receipt line")
        verbose_name_plural = _("receipt lines")
        constraints = [
            models.UniqueConstraint(fields=["receipt", "product"], name="receipt_line_unique_product"),
        ]

    def __str__(self) -> str:
        return f"{self.product.sku} {self.quantity_received}/{self.quantity_expected}"

    @property
    def quantity_outstanding(self) -> int:
        return max(0, self.quantity_expected - self.quantity_received)


class ImportJob(models.Model):
    """A staff bulk import (CSV or XLSX keyed by SKU and warehouse), run in the background.

    Every line is validated first; with any error nothing changes and ``errors`` lists them by
    line and column. Otherwise the whole file is applied in one transaction: ``status`` becomes
    ``done`` in that same transaction, so a retried task never applies a file twice.
    ``processed``/``total`` is the progress of the current phase."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        VALIDATING = "validating", _("Validating")
        APPLYING = "applying", _("Applying")
        DONE = "done", _("Done")
        INVALID = "invalid", _("Refused: errors in the file")
        FAILED = "failed", _("Failed")

    class Mode(models.TextChoices):
        COUNT = "count", _("Quantities are counted stock (stocktake: set on hand)")
        ADJUST = "adjust", _("Quantities are adjustments (+ adds, - removes)")

    FINISHED = (Status.DONE, Status.INVALID, Status.FAILED)

    public_id = public_id_field("imp")
    file = models.FileField(_("file"), upload_to="inventory/imports/%Y/%m/")
    filename = models.CharField(_("file name"), max_length=200)
    mode = models.CharField(_("quantities"), max_length=6, choices=Mode.choices, default=Mode.COUNT)
    reason = models.CharField(_("reason"), max_length=300, blank=True)
    language = models.CharField(_("language of the messages"), max_length=8, default="fr")
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.QUEUED)
    total = models.PositiveIntegerField(_("lines"), default=0)
    processed = models.PositiveIntegerField(_("processed"), default=0)
    errors = models.JSONField(_("errors"), default=list, blank=True)
    result = models.JSONField(_("result"), default=dict, blank=True)
    created_by = models.ForeignKey("partners.User", on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="+", verbose_name=_("by"))
    created_at = models.DateTimeField(_("uploaded at"), auto_now_add=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        verbose_name = _("stock import")
        verbose_name_plural = _("stock imports")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.filename} ({self.get_status_display()})"

    @property
    def is_finished(self) -> bool:
        return self.status in self.FINISHED


# --- Stock feed (inventory/feed.py) ----------------------------------------------------------------


class StockChangePublication(models.Model):
    """Where the ``stock.changed`` batcher stopped: changes up to ``last_change_seq`` (a
    ``ProductAvailability.change_seq``) were published. One row, locked by each batch."""

    last_change_seq = models.BigIntegerField(_("last change published"), default=0)
    published_at = models.DateTimeField(_("published at"), null=True, blank=True)

    class Meta:
        verbose_name = _("stock.changed publication")
        verbose_name_plural = _("stock.changed publications")

    def __str__(self) -> str:
        return f"stock.changed up to {self.last_change_seq}"


# --- The warehouse API's staff tokens (inventory/staff_api.py) -------------------------------------


class StaffToken(AuthToken):
    """A token of the warehouse API, as staff see it in the admin (knox's ``AuthToken``: kept as a
    hash, shown once when issued, revoked by deleting it)."""

    class Meta:
        proxy = True
        verbose_name = _("warehouse API token")
        verbose_name_plural = _("warehouse API tokens")

    def __str__(self) -> str:
        return f"{self.token_key}… ({self.user})"
