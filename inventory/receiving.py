"""Inbound supply: receipts expected from suppliers, received in one or more deliveries.

A receipt is ``expected`` until goods arrive, ``partial`` while some lines are still
outstanding, ``received`` when every line is complete; ``cancelled`` closes what is still
outstanding (what was received stays in stock). Every received quantity enters the stock
through ``inventory.services.receive`` with the reference ("receipt", public id).
"""

import datetime as dt
from dataclasses import dataclass

from django.db import transaction
from django.db.models import F, Min, Sum
from django.utils.translation import gettext as _

from bigstock.errors import Conflict, DomainError
from partners.audit import Actor

from . import services
from .models import Product, Receipt, ReceiptLine, Warehouse

OPEN = (Receipt.Status.EXPECTED, Receipt.Status.PARTIAL)


class ReceiptClosed(Conflict):
    code = "receipt_closed"


class TooManyReceived(DomainError):
    code = "quantity_over_outstanding"


@dataclass(frozen=True)
class LineIn:
    product: Product
    quantity: int


@transaction.atomic
def create_receipt(*, supplier: str, warehouse: Warehouse, expected_on: dt.date, lines: list[LineIn],
                   reference: str = "", actor: Actor) -> Receipt:
    """Goods announced by a supplier: what, how many, where and when."""
    if not lines:
        raise DomainError(_("A receipt needs at least one line."), fields={"lines": [_("Required.")]})
    receipt = Receipt(supplier=supplier, reference=reference, warehouse=warehouse, expected_on=expected_on)
    receipt.full_clean()
    receipt.save()
    seen = set()
    for line in lines:
        if line.product.pk in seen:
            raise DomainError(_("%(sku)s is on the receipt twice: give one line per product.")
                              % {"sku": line.product.sku})
        seen.add(line.product.pk)
        if not isinstance(line.quantity, int) or line.quantity <= 0:
            raise services.InvalidQuantity(_("%(sku)s: the expected quantity must be 1 or more.")
                                           % {"sku": line.product.sku})
        ReceiptLine.objects.create(receipt=receipt, product=line.product, quantity_expected=line.quantity)
    return receipt


def _lock(receipt: Receipt) -> Receipt:
    locked = Receipt.objects.select_for_update(of=("self",)).select_related("warehouse").get(pk=receipt.pk)
    if locked.status not in OPEN:
        raise ReceiptClosed(_("Receipt %(receipt)s is %(status)s: nothing more can be received or cancelled.")
                            % {"receipt": locked, "status": locked.get_status_display().lower()})
    return locked


@transaction.atomic
def receive_receipt(*, receipt: Receipt, actor: Actor, quantities: dict[int, int] | None = None) -> Receipt:
    """Goods of a receipt arrived. ``quantities``: units received per receipt line id (lines not
    named received nothing); without it, everything outstanding arrived. Receiving more than a
    line's outstanding quantity is refused with the quantities."""
    receipt = _lock(receipt)
    lines = list(receipt.lines.select_related("product").order_by("pk"))
    if quantities is None:
        quantities = {line.pk: line.quantity_outstanding for line in lines}
    unknown = set(quantities) - {line.pk for line in lines}
    if unknown:
        raise DomainError(_("These lines are not on receipt %(receipt)s.") % {"receipt": receipt})
    over = [line for line in lines if quantities.get(line.pk, 0) > line.quantity_outstanding]
    if over:
        raise TooManyReceived(
            "; ".join(_("%(sku)s: %(quantity)d received but %(outstanding)d outstanding")
                      % {"sku": line.product.sku, "quantity": quantities[line.pk],
                         "outstanding": line.quantity_outstanding} for line in over),
            fields={"quantities": [_("At most the outstanding quantity.")]},
        )
    if any(quantity < 0 for quantity in quantities.values()):
        raise services.InvalidQuantity(_("A received quantity cannot be negative."))
    if not any(quantities.values()):
        raise services.InvalidQuantity(_("Enter at least one received quantity."))
    reason = _("Receipt from %(supplier)s %(reference)s") % {"supplier": receipt.supplier,
                                                               "reference": receipt.reference}
    for line in lines:
        quantity = quantities.get(line.pk, 0)
        if quantity:
            services.receive(product=line.product, warehouse=receipt.warehouse, quantity=quantity, actor=actor,
                             reason=reason.strip(), reference=("receipt", receipt.public_id))
            line.quantity_received += quantity
            line.save(update_fields=["quantity_received"])
    complete = all(line.quantity_outstanding == 0 for line in lines)
    receipt.status = Receipt.Status.RECEIVED if complete else Receipt.Status.PARTIAL
    receipt.save(update_fields=["status"])
    return receipt


@transaction.atomic
def cancel_receipt(*, receipt: Receipt, actor: Actor) -> Receipt:
    """The supplier will not deliver what is outstanding. What was received stays in stock."""
    receipt = _lock(receipt)
    receipt.status = Receipt.Status.CANCELLED
    receipt.save(update_fields=["status"])
    return receipt


# --- Reads --------------------------------------------------------------------------------------


def _outstanding_lines():
    return ReceiptLine.objects.filter(receipt__status__in=OPEN, quantity_received__lt=F("quantity_expected"))


def incoming_dates(product_ids) -> dict[int, dt.date]:
    """The earliest expected date of outstanding supply, per product (one query for a page)."""
    rows = (_outstanding_lines().filter(product_id__in=list(product_ids)).values("product_id")
            .annotate(first=Min("receipt__expected_on")))
    return {row["product_id"]: row["first"] for row in rows}


def incoming_dates_by_warehouse(product_id: int) -> dict[int, dt.date]:
    """The earliest expected date of outstanding supply of one product, per warehouse id."""
    rows = (_outstanding_lines().filter(product_id=product_id).values("receipt__warehouse_id")
            .annotate(first=Min("receipt__expected_on")))
    return {row["receipt__warehouse_id"]: row["first"] for row in rows}


def incoming_quantities(product_ids=None) -> dict[tuple[int, int], int]:
    """Units still expected, per (product id, warehouse id)."""
    lines = _outstanding_lines()
    if product_ids is not None:
        lines = lines.filter(product_id__in=list(product_ids))
    rows = lines.values("product_id", "receipt__warehouse_id").annotate(
        outstanding=Sum(F("quantity_expected") - F("quantity_received")))
    return {(row["product_id"], row["receipt__warehouse_id"]): row["outstanding"] for row in rows}
