"""Bulk import for staff: a CSV or XLSX file keyed by SKU (and warehouse) that creates or
updates products and sets (stocktake) or adjusts quantities.

The first line names the columns (``COLUMNS``; only ``sku`` is required). A line with a
``quantity`` names its ``warehouse`` by code. A SKU may appear on several lines (one per
warehouse); its product columns need only be filled once. Blank cells leave a product as it is.

``start_import`` stores the file and queues ``tasks.run_import``, which

1. validates every line: each error is kept with its line and column, and with any error
   nothing changes (status ``invalid``);
2. applies the whole file in one transaction (``inventory.services.create_products`` and
   ``apply_batch``: a few statements per 1,000 rows), all or nothing, and records what changed.

Progress: the job row holds the phase's ``processed``/``total``. The apply phase runs in one
transaction the web process cannot see into, so there the count also goes to the cache
(``progress``), which every process shares when ``REDIS_URL`` is set.
"""

import csv
import io
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import connection, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django_countries import countries

from partners.audit import Actor

from . import services
from .models import ImportJob, Product, StockLevel, StockMovement, VatClass, Warehouse, validate_gtin

logger = logging.getLogger(__name__)

MAX_LINES = 200_000
RESULT_LIMIT = 500  # rows of each list kept in the job's result (the counts are complete)
PROGRESS_EVERY = 1000


class CellError(ValueError):
    """A cell's value is refused; the message says why."""


# --- Columns ----------------------------------------------------------------------------------------


def _text(max_length: int) -> Callable[[str], str]:
    def parse(value: str) -> str:
        if len(value) > max_length:
            raise CellError(_("At most %(max)d characters (this one has %(length)d).")
                            % {"max": max_length, "length": len(value)})
        return value
    return parse


def _whole(value: str, *, signed: bool = False) -> int:
    text = value.replace("\u202f", "").replace("\u00a0", "").replace(" ", "")
    try:
        number = int(text)
    except ValueError:
        raise CellError(_("“%(value)s” is not a whole number.") % {"value": value}) from None
    if number < 0 and not signed:
        raise CellError(_("Must be 0 or more (got %(value)d).") % {"value": number})
    return number


def _euros(value: str) -> int:
    text = value.replace("€", "").replace("\u00a0", "").replace(" ", "").replace(",", ".")
    try:
        amount = Decimal(text)
    except InvalidOperation:
        raise CellError(_("“%(value)s” is not an amount in euros, such as 12.50.") % {"value": value}) from None
    if amount < 0 or amount != amount.quantize(Decimal("0.01")):
        raise CellError(_("An amount in euros, 0 or more, with at most 2 decimals (got %(value)s).")
                        % {"value": value})
    return int(amount * 100)


def _gtin(value: str) -> str:
    try:
        validate_gtin(value)
    except ValidationError as error:
        raise CellError(error.messages[0]) from None
    return value


def _country(value: str) -> str:
    code = value.upper()
    if code not in countries:
        raise CellError(_("“%(value)s” is not a country code such as FR or DE.") % {"value": value})
    return code


def _hs_code(value: str) -> str:
    code = value.replace(".", "").replace(" ", "")
    if not code.isdigit() or not 6 <= len(code) <= 10:
        raise CellError(_("A customs code has 6 to 10 digits (got “%(value)s”).") % {"value": value})
    return code


_VAT_RATES = {"20": VatClass.STANDARD, "10": VatClass.INTERMEDIATE, "5.5": VatClass.REDUCED,
              "2.1": VatClass.SUPER_REDUCED}


def _vat_class(value: str) -> str:
    key = value.lower().replace(",", ".").rstrip("%").strip()
    if key in VatClass.values:
        return key
    if key in _VAT_RATES:
        return _VAT_RATES[key]
    raise CellError(_("The VAT rate is one of %(choices)s (or 20, 10, 5.5, 2.1).")
                    % {"choices": ", ".join(VatClass.values)})


_TRUE = {"1", "yes", "y", "true", "oui", "o", "vrai", "x"}
_FALSE = {"0", "no", "n", "false", "non", "faux"}


def _boolean(value: str) -> bool:
    key = value.lower()
    if key in _TRUE | _FALSE:
        return key in _TRUE
    raise CellError(_("Write yes or no (or 1 or 0)."))


def _url(value: str) -> str:
    try:
        URLValidator(schemes=["http", "https"])(value)
    except ValidationError:
        raise CellError(_("Not a web address (http:// or https://).")) from None
    return _text(200)(value)


@dataclass(frozen=True)
class Column:
    field: str  # the Product attribute it sets ("" for sku, warehouse, quantity)
    parse: Callable[[str], object]
    help: str = ""


def _field_text(name: str, help_text: str) -> Column:
    return Column(name, _text(Product._meta.get_field(name).max_length or 10_000), help_text)


# Column name in the file's first line -> what it sets. Names are matched without case.
COLUMNS: dict[str, Column] = {
    "sku": Column("", _text(64), gettext_lazy("Required. The product's SKU: an unknown SKU creates a product.")),
    "warehouse": Column("", str, gettext_lazy("The warehouse code (lyon, lille…), with a quantity.")),
    "quantity": Column("", _whole, gettext_lazy("Counted stock, or the adjustment (+/-), depending on the "
                                                "choice below.")),
    "gtin": Column("gtin", _gtin, gettext_lazy("EAN-13 or other GTIN, check digit verified.")),
    "name_fr": _field_text("name_fr", gettext_lazy("French name. Required for a new product.")),
    "name_en": _field_text("name_en", gettext_lazy("English name (the French one when left blank).")),
    "description_fr": Column("description_fr", str, gettext_lazy("French description.")),
    "description_en": Column("description_en", str, gettext_lazy("English description.")),
    "brand": _field_text("brand", gettext_lazy("Brand.")),
    "category": _field_text("category", gettext_lazy("Category.")),
    "weight_g": Column("weight_g", _whole, gettext_lazy("Weight in grams.")),
    "length_mm": Column("length_mm", _whole, gettext_lazy("Length in millimetres.")),
    "width_mm": Column("width_mm", _whole, gettext_lazy("Width in millimetres.")),
    "height_mm": Column("height_mm", _whole, gettext_lazy("Height in millimetres.")),
    "country_of_origin": Column("country_of_origin", _country, gettext_lazy("Country code: FR, DE, CN…")),
    "hs_code": Column("hs_code", _hs_code, gettext_lazy("Customs code, 6 to 10 digits.")),
    "wholesale_price": Column("wholesale_price_cents", _euros, gettext_lazy(
        "Wholesale price excl. VAT in euros (12.50 or 12,50). Required for a new product.")),
    "retail_price": Column("retail_price_cents", _euros, gettext_lazy(
        "Recommended retail price incl. VAT in euros.")),
    "vat_class": Column("vat_class", _vat_class, gettext_lazy("standard, intermediate, reduced, super_reduced "
                                                              "(or 20, 10, 5.5, 2.1).")),
    "is_active": Column("is_active", _boolean, gettext_lazy("yes or no: an inactive product leaves the "
                                                            "catalogue.")),
    "image_url": Column("image_url", _url, gettext_lazy("Address of the product image (https://…).")),
}
PRODUCT_COLUMNS = {name: column for name, column in COLUMNS.items() if column.field}
REQUIRED_FOR_NEW = ("name_fr", "wholesale_price")


# --- Reading a file ------------------------------------------------------------------------------


class UnreadableFile(ValueError):
    pass


@dataclass
class Table:
    headers: list[str]
    rows: list[tuple[int, list[str]]]  # (line number in the file, cells)


def _cell(value) -> str:
    """An XLSX cell as the text a person typed."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, float):
        return format(Decimal(str(value)), "f")
    return str(value).strip()


def _read_csv(data: bytes) -> Iterable[list[str]]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("cp1252")  # a spreadsheet saved as "CSV" on a French Windows
    first_line = text.split("\n", 1)[0]
    delimiter = max([";", ",", "\t"], key=first_line.count)
    return csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)


def _read_xlsx(data: bytes) -> Iterable[list[str]]:
    import openpyxl

    try:
        workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as error:  # openpyxl raises many kinds for a file that is not a workbook
        raise UnreadableFile(_("This is not an XLSX workbook (%(error)s).") % {"error": error}) from error
    try:
        for row in workbook.worksheets[0].iter_rows(values_only=True):
            yield [_cell(value) for value in row]
    finally:
        workbook.close()


def read_table(data: bytes, filename: str) -> Table:
    """The file's first line as column names, then every non-empty line with its number."""
    lines = _read_xlsx(data) if filename.lower().endswith(".xlsx") else _read_csv(data)
    headers: list[str] | None = None
    rows = []
    try:
        for number, cells in enumerate(lines, start=1):
            cells = [cell.strip() for cell in cells]
            if headers is None:
                headers = [cell.lower() for cell in cells]
                while headers and not headers[-1]:
                    headers.pop()
            elif any(cells):
                rows.append((number, cells))
                if len(rows) > MAX_LINES:
                    raise UnreadableFile(_("At most %(max)d lines per file: split it.") % {"max": MAX_LINES})
    except csv.Error as error:
        raise UnreadableFile(_("This CSV file cannot be read (%(error)s).") % {"error": error}) from error
    if not headers:
        raise UnreadableFile(_("The file is empty: its first line must name the columns."))
    return Table(headers, rows)


# --- Validation ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class QuantityLine:
    line: int
    sku: str
    warehouse: str
    quantity: int


@dataclass
class Plan:
    """What a valid file will do."""

    new: dict[str, dict] = field(default_factory=dict)  # sku -> product fields
    updates: dict[str, dict] = field(default_factory=dict)  # sku -> changed fields only
    quantities: list[QuantityLine] = field(default_factory=list)
    products: dict[str, Product] = field(default_factory=dict)  # existing products named in the file
    warehouses: dict[str, Warehouse] = field(default_factory=dict)
    errors: list[dict] = field(default_factory=list)

    def error(self, line: int | None, column: str, message: str) -> None:
        self.errors.append({"line": line, "column": column, "message": str(message)})

    @property
    def size(self) -> int:
        return len(self.new) + len(self.updates) + len(self.quantities)


def _check_headers(table: Table, plan: Plan) -> None:
    seen = set()
    for header in table.headers:
        if header not in COLUMNS:
            plan.error(1, header, _("Unknown column. The columns are: %(columns)s.")
                       % {"columns": ", ".join(COLUMNS)})
        elif header in seen:
            plan.error(1, header, _("This column appears twice."))
        seen.add(header)
    if "sku" not in seen:
        plan.error(1, "sku", _("The sku column is required."))
    if "quantity" in seen and "warehouse" not in seen:
        plan.error(1, "warehouse", _("Quantities need a warehouse column (the warehouse code)."))


def validate(table: Table, *, mode: str, progress: Callable[[int], None] | None = None) -> Plan:
    """Every cell checked against the catalogue and the stock as they are now."""
    plan = Plan()
    _check_headers(table, plan)
    if plan.errors:
        return plan
    sku_at = table.headers.index("sku")
    skus = {cells[sku_at] for _line, cells in table.rows if len(cells) > sku_at}
    for chunk in services.chunked(sorted(skus)):
        plan.products.update((p.sku, p) for p in Product.objects.filter(sku__in=chunk))
    plan.warehouses = {w.code: w for w in Warehouse.objects.all()}

    fields_of: dict[str, dict] = {}  # sku -> product fields given so far
    given_on: dict[tuple[str, str], int] = {}  # (sku, field) -> line that gave it
    first_line: dict[str, int] = {}
    level_line: dict[tuple[str, str], int] = {}
    for index, (line, cells) in enumerate(table.rows, start=1):
        values = dict(zip(table.headers, cells, strict=False))
        sku = values.get("sku", "")
        if not sku:
            plan.error(line, "sku", _("The SKU is required."))
            continue
        try:
            COLUMNS["sku"].parse(sku)
        except CellError as error:
            plan.error(line, "sku", error)
            continue
        first_line.setdefault(sku, line)
        fields = fields_of.setdefault(sku, {})
        for name, column in PRODUCT_COLUMNS.items():
            value = values.get(name, "")
            if not value:
                continue
            try:
                parsed = column.parse(value)
            except CellError as error:
                plan.error(line, name, error)
                continue
            if column.field in fields and fields[column.field] != parsed:
                plan.error(line, name, _("Differs from line %(line)d for the same SKU.")
                           % {"line": given_on[(sku, column.field)]})
                continue
            fields[column.field] = parsed
            given_on.setdefault((sku, column.field), line)
        _check_quantity_cells(plan, line, sku, values, mode=mode, level_line=level_line)
        if progress is not None and index % PROGRESS_EVERY == 0:
            progress(index)

    for sku, fields in fields_of.items():
        product = plan.products.get(sku)
        if product is None:
            missing = [name for name in REQUIRED_FOR_NEW if COLUMNS[name].field not in fields]
            for name in missing:
                plan.error(first_line[sku], name, _("Required for a new product (%(sku)s is not in the catalogue).")
                           % {"sku": sku})
            plan.new[sku] = {"name_en": fields.get("name_fr", ""), **fields}
        else:
            changed = {name: value for name, value in fields.items() if getattr(product, name) != value}
            if changed:
                plan.updates[sku] = changed
    _check_levels(plan, mode=mode)
    plan.errors.sort(key=lambda error: (error["line"] or 0, list(COLUMNS).index(error["column"])
                                        if error["column"] in COLUMNS else 0))
    return plan


def _check_quantity_cells(plan: Plan, line: int, sku: str, values: dict, *, mode: str, level_line: dict) -> None:
    raw = values.get("quantity", "")
    code = values.get("warehouse", "")
    if not raw:
        return
    try:
        quantity = _whole(raw, signed=mode == ImportJob.Mode.ADJUST)
    except CellError as error:
        plan.error(line, "quantity", error)
        return
    if not code:
        plan.error(line, "warehouse", _("Name the warehouse of this quantity (its code)."))
        return
    if code not in plan.warehouses:
        plan.error(line, "warehouse", _("Unknown warehouse “%(code)s”: the codes are %(codes)s.")
                   % {"code": code, "codes": ", ".join(plan.warehouses)})
        return
    if (sku, code) in level_line:
        plan.error(line, "quantity", _("%(sku)s in %(warehouse)s is already on line %(line)d.")
                   % {"sku": sku, "warehouse": code, "line": level_line[(sku, code)]})
        return
    level_line[(sku, code)] = line
    if mode == ImportJob.Mode.COUNT or quantity:
        plan.quantities.append(QuantityLine(line, sku, code, quantity))


def _check_levels(plan: Plan, *, mode: str) -> None:
    """Counts and removals that would leave less on hand than is reserved for orders."""
    product_ids = [plan.products[q.sku].pk for q in plan.quantities if q.sku in plan.products]
    levels = {}
    for chunk in services.chunked(product_ids):
        for product_id, warehouse_id, on_hand, reserved in StockLevel.objects.filter(
                product_id__in=chunk).values_list("product_id", "warehouse_id", "on_hand", "reserved"):
            levels[(product_id, warehouse_id)] = (on_hand, reserved)
    for q in plan.quantities:
        product = plan.products.get(q.sku)
        on_hand, reserved = levels.get((product.pk, plan.warehouses[q.warehouse].pk), (0, 0)) if product else (0, 0)
        after = q.quantity if mode == ImportJob.Mode.COUNT else on_hand + q.quantity
        if after < reserved:
            plan.error(q.line, "quantity", _("Would leave %(after)d on hand of %(sku)s in %(warehouse)s but "
                                             "%(reserved)d are reserved for orders (%(on_hand)d on hand now).")
                       % {"after": after, "sku": q.sku, "warehouse": q.warehouse, "reserved": reserved,
                          "on_hand": on_hand})


# --- Applying ------------------------------------------------------------------------------------------


class ImportRefused(Exception):
    def __init__(self, errors: list[dict]):
        self.errors = errors
        super().__init__(f"{len(errors)} error(s)")


def _cache_key(job_id: int) -> str:
    return f"inventory:import-progress:{job_id}"


def progress(job: ImportJob) -> tuple[int, int]:
    """(processed, total) of the job's current phase, for the progress bar."""
    processed = job.processed
    if job.status == ImportJob.Status.APPLYING:
        processed = max(processed, cache.get(_cache_key(job.pk), 0))
    return min(processed, job.total), job.total


def _apply(job: ImportJob, plan: Plan, *, actor: Actor) -> dict:
    """The whole plan in one transaction; the job is marked done in that same transaction."""
    def report(done: int) -> None:
        cache.set(_cache_key(job.pk), done, timeout=3600)

    now = timezone.now()
    with transaction.atomic():
        created = services.create_products(products=[Product(sku=sku, **fields) for sku, fields in plan.new.items()])
        report(len(created))
        products = {**plan.products, **{product.sku: product for product in created}}

        # Each product's changed fields, and its current values for the others the file changes.
        names = sorted({name for fields in plan.updates.values() for name in fields})
        columns = [Product._meta.get_field(name) for name in names]
        rows = [(plan.products[sku].pk, *[column.get_db_prep_save(fields.get(column.name, getattr(
            plan.products[sku], column.attname)), connection) for column in columns])
            for sku, fields in plan.updates.items()]
        updated = 0
        for chunk in services.chunked(rows):
            services.update_rows(Product, ["id", *[column.column for column in columns]], chunk,
                                 assignments={**{column.column: f"v.{column.column}" for column in columns},
                                              "updated_at": "%s"}, params=[now])
            updated += len(chunk)
            report(len(created) + updated)

        kind = StockMovement.Kind.COUNT if job.mode == ImportJob.Mode.COUNT else StockMovement.Kind.ADJUSTMENT
        changes = [services.BatchChange(products[q.sku].pk, plan.warehouses[q.warehouse].pk, q.quantity)
                   for q in plan.quantities]
        reason = job.reason or _("Import %(file)s") % {"file": job.filename}
        try:
            before_after = services.apply_batch(
                kind=kind, changes=changes, actor=actor, reason=reason, reference=("import", job.public_id),
                progress=lambda count: report(len(created) + len(rows) + count))
        except services.BatchRefused as refused:
            raise ImportRefused([
                {"line": plan.quantities[item["index"]].line, "column": "quantity",
                 "message": _("%(reserved)d are reserved for orders, %(on_hand)d on hand now: the file was "
                              "validated before orders reserved them.") % item}
                for item in refused.details["refused"]
            ]) from refused

        quantity_changes = [
            {"sku": q.sku, "warehouse": q.warehouse, "before": before, "after": after}
            for q, (before, after) in zip(plan.quantities, before_after, strict=True) if before != after
        ]
        result = {
            "created": len(created),
            "updated": len(rows),
            "quantities": len(quantity_changes),
            "unchanged_quantities": len(plan.quantities) - len(quantity_changes),
            "created_skus": sorted(plan.new)[:RESULT_LIMIT],
            "updated_products": [{"sku": sku, "fields": sorted(fields)}
                                 for sku, fields in sorted(plan.updates.items())[:RESULT_LIMIT]],
            "quantity_changes": quantity_changes[:RESULT_LIMIT],
        }
        ImportJob.objects.filter(pk=job.pk).update(status=ImportJob.Status.DONE, result=result, errors=[],
                                                   processed=job.total, finished_at=timezone.now())
    return result


def _set(job: ImportJob, **fields) -> None:
    for name, value in fields.items():
        setattr(job, name, value)
    ImportJob.objects.filter(pk=job.pk).update(**fields)


def _finish(job: ImportJob, status: str, errors: list[dict]) -> None:
    _set(job, status=status, errors=errors, finished_at=timezone.now())
    logger.info("stock import %s", status, extra={"import": job.public_id, "errors": len(errors)})


# --- The services -------------------------------------------------------------------------------------


def start_import(*, file, mode: str, reason: str, user, language: str = "fr") -> ImportJob:
    """Store the upload and queue its validation and application (``tasks.run_import``)."""
    from . import tasks

    job = ImportJob(filename=file.name[:200], mode=mode, reason=reason, created_by=user, language=language[:8])
    job.file.save(file.name, file, save=False)
    job.save()
    transaction.on_commit(lambda: tasks.run_import.delay(job.pk))
    return job


def run_import(*, job_id: int) -> ImportJob:
    """Validate the job's file, then apply it all or nothing. A finished job is left as it is."""
    job = ImportJob.objects.select_related("created_by").get(pk=job_id)
    if job.is_finished:
        return job
    with translation.override(job.language):
        _set(job, status=ImportJob.Status.VALIDATING, processed=0, total=0, errors=[])
        try:
            with job.file.open("rb") as stored:
                table = read_table(stored.read(), job.filename)
        except UnreadableFile as error:
            _finish(job, ImportJob.Status.INVALID, [{"line": None, "column": "", "message": str(error)}])
            return job
        _set(job, total=len(table.rows))
        plan = validate(table, mode=job.mode, progress=lambda count: _set(job, processed=count))
        if plan.errors:
            _finish(job, ImportJob.Status.INVALID, plan.errors)
            return job
        _set(job, status=ImportJob.Status.APPLYING, processed=0, total=plan.size)
        cache.delete(_cache_key(job.pk))
        try:
            _apply(job, plan, actor=Actor(user=job.created_by))
        except ImportRefused as refused:
            _finish(job, ImportJob.Status.FAILED, refused.errors)
            return job
        except Exception as error:
            _finish(job, ImportJob.Status.FAILED, [{"line": None, "column": "", "message": _(
                "The import stopped on an unexpected error and changed nothing (%(error)s).") % {"error": error}}])
            raise
    job.refresh_from_db()
    logger.info("stock import done", extra={"import": job.public_id, "products_created": job.result["created"],
                                            "products_updated": job.result["updated"],
                                            "quantities_changed": job.result["quantities"]})
    return job
