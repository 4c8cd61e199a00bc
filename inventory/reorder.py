"""Low stock and reorder suggestions.

Each stock level has a reorder point and a target. A level is *below its point* when its
available quantity (on hand - reserved) is lower than the point. The suggested quantity is

    suggested = max(reorder_target, outflow_30d) - available - incoming     (never below 0)

where ``outflow_30d`` is the demand of the last 30 days: units reserved for orders in that
level, less the reservations released again (cancelled orders). Every shipment consumes a
reservation, so counting reservations counts each unit sold once. ``incoming`` is what open
receipts still bring to that warehouse, so goods already ordered are not ordered twice. In
words: enough to reach the target, or a month of demand when that is more.

Partners see "low stock" on products they sold in the last 30 days (a reservation or shipment
for them in the ledger) when the product's availability over every warehouse is below the sum
of its reorder points.
"""

import datetime as dt
import logging
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import F, Q, Sum
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from bigstock.errors import DomainError

from . import receiving
from .models import StockLevel, StockMovement

logger = logging.getLogger(__name__)

OUTFLOW_DAYS = 30
DEMAND = (StockMovement.Kind.RESERVATION, StockMovement.Kind.RELEASE)
SOLD = (StockMovement.Kind.RESERVATION, StockMovement.Kind.SHIPMENT)


@dataclass(frozen=True)
class ReorderLine:
    level: StockLevel
    available: int
    outflow: int
    incoming: int
    suggested: int

    @property
    def product(self):
        return self.level.product

    @property
    def warehouse(self):
        return self.level.warehouse


def suggested_quantity(*, available: int, target: int, outflow: int, incoming: int) -> int:
    """The formula of the module docstring."""
    return max(0, max(target, outflow) - available - incoming)


def levels_to_reorder(*, now: dt.datetime | None = None) -> list[ReorderLine]:
    """Every level below its reorder point, with its suggestion (three queries in all)."""
    since = (now or timezone.now()) - dt.timedelta(days=OUTFLOW_DAYS)
    levels = list(
        StockLevel.objects.filter(reorder_point__gt=F("on_hand") - F("reserved"), product__is_active=True,
                                  warehouse__is_active=True)
        .select_related("product", "warehouse").order_by("warehouse__code", "product__sku")
    )
    if not levels:
        return []
    demand = {
        row["level_id"]: row["units"]
        for row in StockMovement.objects.filter(level__in=levels, kind__in=DEMAND, created_at__gte=since)
        .values("level_id").annotate(units=Sum("reserved_delta"))
    }
    incoming = receiving.incoming_quantities({level.product_id for level in levels})
    lines = []
    for level in levels:
        outflow = max(0, demand.get(level.pk) or 0)
        expected = incoming.get((level.product_id, level.warehouse_id), 0)
        lines.append(ReorderLine(level=level, available=level.available, outflow=outflow, incoming=expected,
                                 suggested=suggested_quantity(available=level.available, target=level.reorder_target,
                                                              outflow=outflow, incoming=expected)))
    return lines


def low_stock_product_ids(*, partner, product_ids=None, now: dt.datetime | None = None) -> set[int]:
    """Products the partner sold in the last 30 days whose availability (all warehouses) is below
    the sum of their reorder points. One query; ``product_ids`` narrows it to a page."""
    if partner is None:
        return set()
    since = (now or timezone.now()) - dt.timedelta(days=OUTFLOW_DAYS)
    sold = StockMovement.objects.filter(partner=partner, kind__in=SOLD, created_at__gte=since).values(
        "level__product_id")
    levels = StockLevel.objects.filter(product_id__in=sold, warehouse__is_active=True)
    if product_ids is not None:
        levels = levels.filter(product_id__in=list(product_ids))
    rows = (levels.values("product_id")
            .annotate(available=Sum(F("on_hand") - F("reserved")), point=Sum("reorder_point"))
            .filter(point__gt=0, available__lt=F("point")))
    return {row["product_id"] for row in rows}


# --- Changes ------------------------------------------------------------------------------------


@transaction.atomic
def set_reorder_levels(*, level: StockLevel, reorder_point: int, reorder_target: int) -> StockLevel:
    """Change a level's reorder point and target (never its quantities: those move through the ledger)."""
    if reorder_target < reorder_point:
        raise DomainError(_("The target (%(target)d) must be at least the reorder point (%(point)d).")
                          % {"target": reorder_target, "point": reorder_point},
                          fields={"reorder_target": [_("At least the reorder point.")]})
    StockLevel.objects.filter(pk=level.pk).update(reorder_point=reorder_point, reorder_target=reorder_target)
    level.reorder_point, level.reorder_target = reorder_point, reorder_target
    return level


def stock_staff_emails() -> list[str]:
    """Who hears about low stock: active staff allowed to change stock levels (superusers included);
    the support address when there is none."""
    users = get_user_model().objects.filter(is_active=True, is_staff=True).filter(
        Q(is_superuser=True)
        | Q(user_permissions__codename="change_stocklevel", user_permissions__content_type__app_label="inventory")
        | Q(groups__permissions__codename="change_stocklevel",
            groups__permissions__content_type__app_label="inventory")
    ).exclude(email="").distinct()
    return sorted(users.values_list("email", flat=True)) or [settings.BIGSTOCK_SUPPORT_EMAIL]


def notify_staff(*, lines: list[ReorderLine]) -> int:
    """Email the reorder list to stock staff. Returns the number of lines sent (0: no email)."""
    if not lines:
        return 0
    context = {"lines": lines, "url": settings.BIGSTOCK_SITE_URL + reverse("admin:inventory_reorder")}
    subject = render_to_string("inventory/email/reorder_subject.txt", context).strip()
    body = render_to_string("inventory/email/reorder.txt", context)
    send_mail(f"{settings.ACCOUNT_EMAIL_SUBJECT_PREFIX}{subject}", body, None, stock_staff_emails())
    logger.info("reorder list sent", extra={"levels": len(lines)})
    return len(lines)
