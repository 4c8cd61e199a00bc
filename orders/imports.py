"""Orders from a partner's CSV file: read and check every line first, then submit in the background.

``read_orders`` checks every cell and returns the orders (one per reference, several lines each),
or raises ``FileRefused`` with every error by line and column: nothing is stored then.
``start_import`` records the orders on an ``OrderImport`` and queues ``run_import``, which
submits them one by one through ``services.submit_order`` (stock is reserved at that moment, so
an order may still fail, for instance when another order took the last units: it is listed
with its lines). Each submission and the progress move in one transaction, so a retried task
never submits an order twice.
"""

import csv
import io
import logging
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django_countries import countries

from bigstock.errors import DomainError
from inventory.models import Product
from partners.audit import Actor

from . import services
from .models import Order, OrderImport

logger = logging.getLogger(__name__)

COLUMNS = ["reference", "sku", "quantity", "name", "company", "line1", "line2", "postcode", "city", "country",
           "phone", "email", "notes"]
REQUIRED_COLUMNS = ["reference", "sku", "quantity", "name", "line1", "postcode", "city", "country"]
ORDER_COLUMNS = ["name", "company", "line1", "line2", "postcode", "city", "country", "phone", "email", "notes"]
MAX_LENGTHS = {"reference": 64, "sku": 64, "name": 200, "company": 200, "line1": 200, "line2": 200, "postcode": 20,
               "city": 100, "country": 2, "phone": 30, "email": 254, "notes": 2000}
MAX_BYTES = 2_000_000
MAX_ROWS = 5_000
MAX_QUANTITY = 100_000


@dataclass(frozen=True)
class CellError:
    line: int  # as a spreadsheet numbers it: the column names are line 1
    column: str
    message: str


class FileRefused(Exception):
    def __init__(self, errors: list[CellError]):
        self.errors = sorted(errors, key=lambda error: (error.line, COLUMNS.index(error.column)
                                                        if error.column in COLUMNS else -1))
        super().__init__(f"{len(errors)} error(s)")


def _decode(content: bytes) -> str:
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError:
        return content.decode("cp1252", errors="replace")  # a spreadsheet saved on Windows


def _rows(text: str):
    """(line number, {column: value}) for every non-empty line, after the header."""
    first_line = text.split("\n", 1)[0]
    delimiter = max(",;\t", key=first_line.count)  # the column names say how the file is separated
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    header = [name.strip().lower() for name in next(reader, [])]
    errors = [CellError(1, name or "?", _("Unknown column: the columns are %(columns)s.")
                        % {"columns": ", ".join(COLUMNS)}) for name in header if name not in COLUMNS]
    errors += [CellError(1, name, _("This column is missing.")) for name in REQUIRED_COLUMNS if name not in header]
    if errors:
        raise FileRefused(errors)
    rows, errors = [], []
    line = 1
    for cells in reader:
        line = reader.line_num
        if not any(cell.strip() for cell in cells):
            continue
        if len(cells) > len(header):
            errors.append(CellError(line, header[-1], _("This line has more cells than there are columns.")))
            continue
        rows.append((line, {name: value.strip() for name, value in zip(header, cells, strict=False)}))
        if len(rows) > MAX_ROWS:
            raise FileRefused([CellError(line, "reference", _("At most %(max)d lines per file: split it.")
                                         % {"max": MAX_ROWS})])
    if errors:
        raise FileRefused(errors)
    return rows


def _check_cells(line: int, values: dict) -> list[CellError]:
    errors = []
    for column in ("reference", "sku", "quantity"):
        if not values.get(column):
            errors.append(CellError(line, column, _("Required.")))
    for column, limit in MAX_LENGTHS.items():
        if len(values.get(column, "")) > limit:
            errors.append(CellError(line, column, _("At most %(max)d characters.") % {"max": limit}))
    quantity = values.get("quantity", "")
    if quantity and (not quantity.isdigit() or not 1 <= int(quantity) <= MAX_QUANTITY):
        errors.append(CellError(line, "quantity", _("A whole number from 1 to %(max)d.") % {"max": MAX_QUANTITY}))
    country = values.get("country", "").upper()
    if country and country not in countries:
        errors.append(CellError(line, "country", _("Not an ISO country code (for example FR, BE, DE).")))
    if values.get("email"):
        try:
            validate_email(values["email"])
        except ValidationError:
            errors.append(CellError(line, "email", _("Not a valid email address.")))
    return errors


def read_orders(*, partner, upload) -> list[dict]:
    """The orders of an uploaded CSV file, or ``FileRefused`` with every error (line, column, message).

    An order's address and notes come from its first line; later lines of the same reference may
    leave them empty or repeat them, but not change them."""
    if upload.size > MAX_BYTES:
        raise FileRefused([CellError(1, "reference", _("The file is larger than %(max)d MB: split it.")
                                     % {"max": MAX_BYTES // 1_000_000})])
    rows = _rows(_decode(upload.read()))
    if not rows:
        raise FileRefused([CellError(2, "reference", _("The file has no orders under its column names."))])
    errors: list[CellError] = []
    orders: dict[str, dict] = {}
    for line, values in rows:
        errors += _check_cells(line, values)
        reference = values.get("reference", "")
        if not reference:
            continue
        order = orders.get(reference)
        if order is None:
            order = orders[reference] = {"reference": reference, "first_line": line, "lines": [],
                                         **{column: values.get(column, "") for column in ORDER_COLUMNS}}
            order["country"] = order["country"].upper()
            errors += [CellError(line, column, _("Required on the first line of an order."))
                       for column in ("name", "line1", "postcode", "city", "country") if not order[column]]
        else:
            errors += [
                CellError(line, column, _("Differs from line %(line)d, this order's first line.")
                          % {"line": order["first_line"]})
                for column in ORDER_COLUMNS
                if values.get(column) and values[column].upper() != str(order[column]).upper()
            ]
        if values.get("sku") and values.get("quantity", "").isdigit():
            order["lines"].append({"line": line, "sku": values["sku"].upper(), "quantity": int(values["quantity"])})
    errors += _unknown_skus(orders.values())
    errors += _used_references(partner, orders.values())
    for order in orders.values():
        if len(order["lines"]) > services.MAX_LINES:
            errors.append(CellError(order["first_line"], "reference", _("An order has at most %(max)d lines.")
                                    % {"max": services.MAX_LINES}))
    if errors:
        raise FileRefused(errors)
    return list(orders.values())


def _unknown_skus(orders) -> list[CellError]:
    skus = {line["sku"] for order in orders for line in order["lines"]}
    sold = set(Product.objects.filter(sku__in=skus, is_active=True).values_list("sku", flat=True))
    return [CellError(line["line"], "sku", _("Unknown SKU, or no longer sold."))
            for order in orders for line in order["lines"] if line["sku"] not in sold]


def _used_references(partner, orders) -> list[CellError]:
    by_reference = {order["reference"]: order for order in orders}
    used = Order.objects.for_partner(partner).filter(reference__in=by_reference).values_list("reference", "public_id")
    return [CellError(by_reference[reference]["first_line"], "reference",
                      _("You already sent this reference (order %(id)s).") % {"id": public_id})
            for reference, public_id in used]


@transaction.atomic
def start_import(*, partner, user, filename: str, orders: list[dict], language: str) -> OrderImport:
    """Record checked orders and submit them in the background (``tasks.run_order_import``)."""
    job = OrderImport.objects.create(partner=partner, created_by=user, filename=filename[:200], orders=orders,
                                     total=len(orders), language=language)
    from . import tasks  # tasks import this module

    transaction.on_commit(lambda: tasks.run_order_import.delay(job.pk))
    logger.info("order import queued", extra={"partner": partner.public_id, "import": job.public_id,
                                              "orders": len(orders)})
    return job


def run_import(*, import_id: int) -> OrderImport | None:
    """Submit the import's orders not submitted yet, one transaction each; then mark it done."""
    job = OrderImport.objects.select_related("partner", "created_by").filter(pk=import_id).first()
    if job is None or job.is_finished:
        return job
    if job.status == OrderImport.Status.QUEUED:
        OrderImport.objects.filter(pk=job.pk).update(status=OrderImport.Status.RUNNING)
    actor = Actor(user=job.created_by)
    with translation.override(job.language):
        for index in range(job.processed, job.total):
            _submit_one(job.pk, index, partner=job.partner, actor=actor)
    OrderImport.objects.filter(pk=job.pk).update(status=OrderImport.Status.DONE, finished_at=timezone.now())
    job.refresh_from_db()
    return job


@transaction.atomic
def _submit_one(import_id: int, index: int, *, partner, actor: Actor) -> None:
    job = OrderImport.objects.select_for_update().get(pk=import_id)
    if job.processed > index:  # another delivery of the task got there first
        return
    entry = job.orders[index]
    line_numbers = [line["line"] for line in entry["lines"]]
    try:
        order = services.submit_order(
            partner=partner, actor=actor, source="csv", reference=entry["reference"], notes=entry["notes"],
            ship_to={column: entry[column] for column in services.SHIP_TO_FIELDS},
            lines=[services.LineIn(line["sku"], line["quantity"]) for line in entry["lines"]])
    except DomainError as error:
        job.failures.extend(_failures(entry, error, line_numbers))
    else:
        job.created.append({"reference": order.reference, "id": order.public_id, "lines": line_numbers})
    job.processed = index + 1
    job.save(update_fields=["processed", "created", "failures"])


def _failures(entry: dict, error: DomainError, line_numbers: list[int]) -> list[dict]:
    """One failure per line the error is about (short or unknown SKUs), else one for the order."""
    by_sku = {}
    for shortage in error.details.get("lines", []):
        by_sku[shortage["sku"]] = _("Not enough stock: %(requested)d requested, %(available)d available.") % shortage
    for sku in error.details.get("skus", []):
        by_sku[sku] = _("Unknown SKU, or no longer sold.")
    failures = [{"reference": entry["reference"], "lines": [line["line"]], "sku": line["sku"],
                 "message": by_sku[line["sku"]]} for line in entry["lines"] if line["sku"] in by_sku]
    return failures or [{"reference": entry["reference"], "lines": line_numbers, "sku": "", "message": error.message}]


def sample_csv() -> str:
    """A small file showing the format: two orders, the first with two lines."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(COLUMNS)
    writer.writerow(["CMD-1001", "SKU-A", "2", "Jeanne Martin", "", "5 rue des Lilas", "", "69003", "Lyon", "FR",
                     "+33612345678", "jeanne@example.com", "Leave with the caretaker"])
    writer.writerow(["CMD-1001", "SKU-B", "1", "", "", "", "", "", "", "", "", "", ""])
    writer.writerow(["CMD-1002", "SKU-A", "1", "Paul Durand", "Durand SARL", "12 quai Saint-Antoine", "", "69002",
                     "Lyon", "FR", "+33478123456", "", ""])
    return buffer.getvalue()
