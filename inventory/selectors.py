"""Reads over stock that are more than a lookup."""

from dataclasses import dataclass

from django.db.models import Count, Sum

from .models import ProductAvailability, StockLevel, StockMovement


@dataclass(frozen=True)
class Difference:
    what: str
    expected: int
    found: int

    def __str__(self) -> str:
        return f"{self.what}: ledger says {self.expected}, found {self.found}"


def ledger_differences() -> list[Difference]:
    """Every level whose quantities differ from the sum of its movements, and every feed row
    whose totals differ from its levels. Empty when the books balance."""
    differences = []
    sums = {
        row["level_id"]: row
        for row in StockMovement.objects.values("level_id").annotate(
            on_hand=Sum("on_hand_delta"), reserved=Sum("reserved_delta"), count=Count("id"))
    }
    for level in StockLevel.objects.select_related("product", "warehouse").order_by("pk"):
        ledger = sums.get(level.pk, {"on_hand": 0, "reserved": 0})
        name = f"{level.product.sku} @ {level.warehouse.code}"
        if ledger["on_hand"] != level.on_hand:
            differences.append(Difference(f"{name} on hand", ledger["on_hand"], level.on_hand))
        if ledger["reserved"] != level.reserved:
            differences.append(Difference(f"{name} reserved", ledger["reserved"], level.reserved))
    totals = {
        row["product_id"]: row
        for row in StockLevel.objects.values("product_id").annotate(on_hand=Sum("on_hand"), reserved=Sum("reserved"))
    }
    for row in ProductAvailability.objects.order_by("pk"):
        levels = totals.get(row.product_id, {"on_hand": 0, "reserved": 0})
        if (levels["on_hand"], levels["reserved"]) != (row.on_hand, row.reserved) or row.available != row.on_hand - row.reserved:
            differences.append(Difference(f"{row.sku} feed available", levels["on_hand"] - levels["reserved"],
                                          row.available))
    return differences
