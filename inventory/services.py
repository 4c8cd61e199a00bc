"""Every change to stock: receive, adjust, count, reserve, release, ship, return.

Each is one transaction that writes its ``StockMovement`` rows (the ledger) and keeps
``ProductAvailability`` (the feed's rows) in step. Levels are locked in primary-key order,
so concurrent operations never oversell and never deadlock; database constraints forbid
negative stock whatever happens.
"""

import functools
import logging
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from bigstock import hotcache, sql
from bigstock.errors import Conflict, DomainError
from bigstock.money import round_cents
from partners.audit import Actor

from .models import Product, ProductAvailability, StockLevel, StockMovement, Warehouse

logger = logging.getLogger(__name__)


class InsufficientStock(Conflict):
    code = "insufficient_stock"


class StockBelowZero(Conflict):
    """Refused: the level would go below zero or below what is reserved for orders (409: the stock
    as it is now conflicts with the change, not the request's form)."""

    code = "stock_below_zero"


class UnknownSku(DomainError):
    code = "unknown_sku"
    status_code = 404


class InvalidQuantity(DomainError):
    code = "invalid_quantity"


@dataclass(frozen=True)
class LineRequest:
    """A quantity of a SKU to reserve (from any warehouse unless one is named)."""

    sku: str
    quantity: int
    warehouse_code: str = ""


@dataclass(frozen=True)
class Allocation:
    """Units of one line held in one warehouse (orders keep these to release or ship later)."""

    sku: str
    level_id: int
    warehouse_code: str
    quantity: int


Movement = StockMovement.Kind


def _check_quantity(quantity: int, *, allow_zero: bool = False) -> None:
    if not isinstance(quantity, int) or quantity < 0 or (quantity == 0 and not allow_zero):
        raise InvalidQuantity(_("The quantity must be a whole number greater than zero (got %(quantity)s).")
                              % {"quantity": quantity}, fields={"quantity": [_("Must be 1 or more.")]})


def _apply(changes: list[tuple[StockLevel, int, int]], *, kind: str, actor: Actor, reason: str = "",
           partner=None, reference: tuple[str, str] = ("", "")) -> None:
    """Write level changes, their movements and the feed rows: on PostgreSQL in one statement (one
    round trip), elsewhere in three.

    ``changes``: (locked level, on_hand delta, reserved delta); constraints reject negatives."""
    now = timezone.now()
    for level, on_hand_delta, reserved_delta in changes:
        level.on_hand += on_hand_delta
        level.reserved += reserved_delta
        level.updated_at = now
    totals: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    for level, on_hand_delta, reserved_delta in changes:
        totals[level.product_id][0] += on_hand_delta
        totals[level.product_id][1] += reserved_delta
    feed_rows = [(product_id, on_hand_delta, reserved_delta) for product_id, (on_hand_delta, reserved_delta)
                 in totals.items()]
    reason = reason[:300]
    if connection.vendor == "postgresql":
        # Rows as arrays, one parameter per column: the statement is the same whatever the number
        # of rows (one prepared statement; psycopg keeps its parsed form only up to 50 parameters).
        columns = zip(*[(level.pk, on_hand_delta, reserved_delta, level.on_hand, level.reserved)
                        for level, on_hand_delta, reserved_delta in changes], strict=True)
        sql.execute(_apply_sql(), [
            *map(list, columns), now,
            kind, reason, actor.label, partner.pk if partner else None, reference[0], reference[1], now,
            *map(list, zip(*feed_rows, strict=True)),
        ])
        return
    update_rows(StockLevel, ["id", "on_hand", "reserved"],
                [(level.pk, level.on_hand, level.reserved) for level, _oh, _r in changes],
                assignments={"on_hand": "v.on_hand", "reserved": "v.reserved", "updated_at": "%s"}, params=[now])
    movements = sql.insert([
        StockMovement(level=level, kind=kind, on_hand_delta=on_hand_delta, reserved_delta=reserved_delta,
                      on_hand_after=level.on_hand, reserved_after=level.reserved, reason=reason,
                      actor_label=actor.label, partner=partner, reference_type=reference[0],
                      reference_id=reference[1])
        for level, on_hand_delta, reserved_delta in changes
    ])
    update_rows(ProductAvailability, ["product_id", "on_hand", "reserved"], feed_rows,
                assignments={"on_hand": "t.on_hand + v.on_hand", "reserved": "t.reserved + v.reserved",
                             "available": "t.available + v.on_hand - v.reserved", "change_seq": "%s"},
                params=[max(movement.pk for movement in movements)])


@functools.cache
def _apply_sql() -> str:
    """``_apply``'s statement on PostgreSQL: the levels, their movements (the feed rows' cursor is
    the last movement's id) and the feed rows."""
    quote = connection.ops.quote_name
    return (
        "WITH changes AS (SELECT * FROM unnest(%s::bigint[], %s::integer[], %s::integer[], %s::integer[], "  # noqa: S608 (names from the models, values as parameters)
        "%s::integer[]) AS c (level_id, on_hand_delta, reserved_delta, on_hand_after, reserved_after)), "
        f"levels AS (UPDATE {quote(StockLevel._meta.db_table)} AS t SET on_hand = c.on_hand_after, "
        "reserved = c.reserved_after, updated_at = %s FROM changes AS c WHERE t.id = c.level_id), "
        f"movements AS (INSERT INTO {quote(StockMovement._meta.db_table)} ({_MOVEMENT_COLUMNS}) "
        "SELECT c.*, %s, %s, %s, %s, %s, %s, %s FROM changes AS c RETURNING id) "
        f"UPDATE {quote(ProductAvailability._meta.db_table)} AS t SET on_hand = t.on_hand + f.on_hand, "
        "reserved = t.reserved + f.reserved, available = t.available + f.on_hand - f.reserved, "
        "change_seq = (SELECT max(id) FROM movements) "
        "FROM unnest(%s::bigint[], %s::integer[], %s::integer[]) AS f (product_id, on_hand, reserved) "
        "WHERE t.product_id = f.product_id"
    )


# The columns of a movement: its numbers, then what it shares with the change's other movements.
_MOVEMENT_COLUMNS = ("level_id, on_hand_delta, reserved_delta, on_hand_after, reserved_after, kind, reason, actor_label, "
                     "partner_id, reference_type, reference_id, created_at")


def _lock_level(*, product: Product, warehouse: Warehouse) -> StockLevel:
    """The level of (product, warehouse), created empty if it does not exist yet, locked. It holds
    the numbers (``LEVEL_FIELDS``) and the given product and warehouse."""
    rows = sql.fetch(_lock_level_sql(), [product.pk, warehouse.pk])
    if not rows:
        StockLevel.objects.bulk_create([StockLevel(product=product, warehouse=warehouse)], ignore_conflicts=True)
        ProductAvailability.objects.bulk_create([ProductAvailability(product=product, sku=product.sku)],
                                                ignore_conflicts=True)
        rows = sql.fetch(_lock_level_sql(), [product.pk, warehouse.pk])
    level = StockLevel.from_db(connection.alias, LEVEL_FIELDS, rows[0])
    level.product, level.warehouse = product, warehouse
    return level


LEVEL_FIELDS = ["id", "product_id", "warehouse_id", "on_hand", "reserved", "updated_at"]


@functools.cache
def _lock_level_sql() -> str:
    lock = " FOR UPDATE" if connection.features.has_select_for_update else ""
    return (f"SELECT {', '.join(LEVEL_FIELDS)} FROM {StockLevel._meta.db_table} "  # noqa: S608 (names from the model)
            f"WHERE product_id = %s AND warehouse_id = %s{lock}")


def product_by_sku(sku: str) -> Product:
    """The product of ``sku``, active or not (staff change the stock of both), with ``ORDER_FIELDS``."""
    rows = sql.fetch(_product_sql(), [sku])
    if not rows:
        raise UnknownSku(_("Unknown SKU %(sku)s.") % {"sku": sku},
                         fields={"sku": [_("Unknown SKU %(sku)s.") % {"sku": sku}]}, skus=[sku])
    return Product.from_db(connection.alias, ORDER_FIELDS, rows[0])


@functools.cache
def _product_sql() -> str:
    return f"SELECT {', '.join(ORDER_FIELDS)} FROM {Product._meta.db_table} WHERE sku = %s"  # noqa: S608


# Warehouses are few and rarely change: kept a few seconds per process (bigstock.hotcache).
warehouses_by_code = hotcache.HotCache("warehouses_by_code")
warehouses_by_code.forget_on_save(Warehouse)


class UnknownWarehouse(DomainError):
    code = "unknown_warehouse"


def warehouse_by_code(code: str) -> Warehouse:
    warehouse = warehouses_by_code.get_or_load(code, lambda: Warehouse.objects.filter(code=code).first())
    if warehouse is None:
        raise UnknownWarehouse(_("Unknown warehouse %(code)s.") % {"code": code},
                               fields={"warehouse": [_("Unknown warehouse %(code)s.") % {"code": code}]})
    return warehouse


# --- Operations on one level (staff, receipts, returns) -------------------------------------------


def _shift_on_hand(*, product: Product, warehouse: Warehouse, delta: int, kind: str, actor: Actor, reason: str = "",
                   partner=None, reference: tuple[str, str] = ("", "")) -> StockLevel | None:
    """On PostgreSQL, ``on_hand += delta`` unless that would leave less than is reserved, with its
    movement and feed row, in one statement: one round trip, no explicit transaction (a statement
    is one, and its row lock makes a concurrent change wait, then re-check the condition on the new
    numbers). The level after it; None when nothing was written (elsewhere than on PostgreSQL, no
    such level yet, or refused): the caller then takes the locked path, which creates the level or
    says, with the numbers, why it refuses."""
    if connection.vendor != "postgresql":
        return None
    now = timezone.now()
    rows = sql.fetch(_shift_on_hand_sql(), [
        delta, now, product.pk, warehouse.pk, delta,  # the level
        delta, kind, reason[:300], actor.label, partner.pk if partner else None, reference[0], reference[1], now,
        delta, delta, product.pk,  # the feed row
    ])
    if not rows:
        return None
    level = StockLevel.from_db(connection.alias, LEVEL_FIELDS, (rows[0][0], product.pk, warehouse.pk, *rows[0][1:]))
    level.product, level.warehouse = product, warehouse
    return level


@functools.cache
def _shift_on_hand_sql() -> str:
    quote = connection.ops.quote_name
    return (
        f"WITH level AS (UPDATE {quote(StockLevel._meta.db_table)} SET on_hand = on_hand + %s, updated_at = %s "  # noqa: S608 (names from the models, values as parameters)
        "WHERE product_id = %s AND warehouse_id = %s AND on_hand + %s >= reserved "
        "RETURNING id, on_hand, reserved, updated_at), "
        f"movement AS (INSERT INTO {quote(StockMovement._meta.db_table)} ({_MOVEMENT_COLUMNS}) "
        "SELECT id, %s, 0, on_hand, reserved, %s, %s, %s, %s, %s, %s, %s FROM level RETURNING id), "
        f"feed AS (UPDATE {quote(ProductAvailability._meta.db_table)} SET on_hand = on_hand + %s, "
        "available = available + %s, change_seq = (SELECT id FROM movement) "
        "WHERE product_id = %s AND EXISTS (SELECT FROM movement)) "
        "SELECT id, on_hand, reserved, updated_at FROM level"
    )


def _add(*, product: Product, warehouse: Warehouse, quantity: int, kind: str, actor: Actor, reason: str = "",
         partner=None, reference: tuple[str, str] = ("", "")) -> StockLevel:
    """On hand goes up by ``quantity`` (a receipt, a return): one statement, or the locked path
    when there is no level yet (or no PostgreSQL)."""
    change = {"product": product, "warehouse": warehouse, "kind": kind, "actor": actor, "reason": reason,
              "partner": partner, "reference": reference}
    return _shift_on_hand(delta=quantity, **change) or _add_locked(quantity=quantity, **change)


@transaction.atomic
def _add_locked(*, product: Product, warehouse: Warehouse, quantity: int, kind: str, actor: Actor,
                reason: str = "", partner=None, reference: tuple[str, str] = ("", "")) -> StockLevel:
    level = _lock_level(product=product, warehouse=warehouse)
    _apply([(level, quantity, 0)], kind=kind, actor=actor, reason=reason, partner=partner, reference=reference)
    return level


def receive(*, product: Product, warehouse: Warehouse, quantity: int, actor: Actor, reason: str = "",
            reference: tuple[str, str] = ("", "")) -> StockLevel:
    """Goods arrived: on hand goes up."""
    _check_quantity(quantity)
    return _add(product=product, warehouse=warehouse, quantity=quantity, kind=Movement.RECEIPT, actor=actor,
                reason=reason, reference=reference)


def adjust(*, product: Product, warehouse: Warehouse, delta: int, reason: str, actor: Actor) -> StockLevel:
    """A correction (breakage, loss, found goods) with its reason. Never below what is reserved."""
    if not reason.strip():
        raise DomainError(_("Give the reason for the adjustment."), fields={"reason": [_("Required.")]})
    if not isinstance(delta, int) or delta == 0:
        raise InvalidQuantity(_("The adjustment must be a whole number other than zero."),
                              fields={"delta": [_("Must not be zero.")]})
    return (_shift_on_hand(product=product, warehouse=warehouse, delta=delta, kind=Movement.ADJUSTMENT, actor=actor,
                           reason=reason)
            or _adjust_locked(product=product, warehouse=warehouse, delta=delta, reason=reason, actor=actor))


@transaction.atomic
def _adjust_locked(*, product: Product, warehouse: Warehouse, delta: int, reason: str, actor: Actor) -> StockLevel:
    level = _lock_level(product=product, warehouse=warehouse)
    if level.on_hand + delta < level.reserved:
        raise StockBelowZero(
            _("Cannot remove %(remove)d of %(sku)s in %(warehouse)s: %(on_hand)d on hand, %(reserved)d reserved "
              "for orders, so at most %(max)d can be removed.")
            % {"remove": -delta, "sku": product.sku, "warehouse": level.warehouse.code, "on_hand": level.on_hand,
               "reserved": level.reserved, "max": level.on_hand - level.reserved},
            fields={"delta": [_("At most %(max)d can be removed.") % {"max": level.on_hand - level.reserved}]},
            on_hand=level.on_hand, reserved=level.reserved,
        )
    _apply([(level, delta, 0)], kind=Movement.ADJUSTMENT, actor=actor, reason=reason)
    return level


@transaction.atomic
def count(*, product: Product, warehouse: Warehouse, counted: int, actor: Actor, reason: str = "") -> StockLevel:
    """Stocktake: set on hand to what was counted; the difference becomes a movement."""
    _check_quantity(counted, allow_zero=True)
    level = _lock_level(product=product, warehouse=warehouse)
    if counted < level.reserved:
        raise StockBelowZero(
            _("Counted %(counted)d of %(sku)s but %(reserved)d are reserved for orders: recount, or release "
              "orders first.") % {"counted": counted, "sku": product.sku, "reserved": level.reserved},
            fields={"counted": [_("Below the reserved quantity.")]},
        )
    if counted != level.on_hand:
        _apply([(level, counted - level.on_hand, 0)], kind=Movement.COUNT, actor=actor,
               reason=reason or _("Stocktake"))
    return level


def return_stock(*, product: Product, warehouse: Warehouse, quantity: int, actor: Actor, partner=None,
                 reference: tuple[str, str] = ("", "")) -> StockLevel:
    """Goods came back from a customer and are sellable again."""
    _check_quantity(quantity)
    return _add(product=product, warehouse=warehouse, quantity=quantity, kind=Movement.RETURN, actor=actor,
                partner=partner, reference=reference)


# --- Orders: reserve, release, ship --------------------------------------------------------------


ORDER_FIELDS = ["id", "sku", "wholesale_price_cents", "is_active"]


@functools.cache
def _products_sql(count: int) -> str:
    return (f"SELECT {', '.join(ORDER_FIELDS)} FROM {Product._meta.db_table} "  # noqa: S608 (names from the model)
            f"WHERE sku IN ({', '.join(['%s'] * count)}) AND is_active")


@functools.cache
def _locked_levels_sql(count: int) -> str:
    """Levels of ``count`` products in active warehouses, locked in primary-key order (no deadlock)."""
    lock = " FOR UPDATE OF l" if connection.features.has_select_for_update_of else ""
    return (f"SELECT l.id, l.product_id, l.on_hand, l.reserved, w.code FROM {StockLevel._meta.db_table} l "  # noqa: S608
            f"JOIN {Warehouse._meta.db_table} w ON w.id = l.warehouse_id "
            f"WHERE l.product_id IN ({', '.join(['%s'] * count)}) AND w.is_active ORDER BY l.id{lock}")


def products_by_sku(skus: list[str]) -> dict[str, Product]:
    """Active products by SKU, with the fields an order needs (``ORDER_FIELDS``; reading another
    one reads the product again); ``UnknownSku`` names any that are unknown or inactive."""
    skus = sorted(set(skus))
    products = {row[1]: Product.from_db(connection.alias, ORDER_FIELDS, row)
                for row in sql.fetch(_products_sql(len(skus)), skus)}
    unknown = [sku for sku in skus if sku not in products]
    if unknown:
        raise UnknownSku(_("Unknown or inactive SKU: %(skus)s.") % {"skus": ", ".join(unknown)},
                         fields={"sku": [_("Unknown SKU %(sku)s.") % {"sku": sku} for sku in unknown]}, skus=unknown)
    return products


@transaction.atomic(savepoint=False)  # part of the order's transaction: a refusal fails the whole order
def reserve(*, lines: list[LineRequest], partner, actor: Actor, reference: tuple[str, str],
            allow_partial: bool = False, products: dict[str, Product] | None = None,
            ) -> tuple[list[Allocation], dict[str, int]]:
    """Hold stock for an order's lines, from one or several warehouses.

    Returns the allocations and, with ``allow_partial``, the quantity missing per SKU
    (backorder); otherwise any shortfall raises ``InsufficientStock`` listing what is available.
    ``products`` (by SKU, from ``products_by_sku``) saves reading them again.
    """
    wanted: dict[str, int] = defaultdict(int)
    for line in lines:
        _check_quantity(line.quantity)
        wanted[line.sku] += line.quantity
    products = products if products is not None else products_by_sku(list(wanted))
    by_product = {product.pk: sku for sku, product in products.items()}
    # Locked in primary-key order: two orders never wait on each other crosswise (no deadlock).
    by_sku: dict[str, list[StockLevel]] = defaultdict(list)
    warehouse_codes: dict[int, str] = {}
    for level_id, product_id, on_hand, reserved, code in sql.fetch(_locked_levels_sql(len(by_product)),
                                                                   list(by_product)):
        by_sku[by_product[product_id]].append(StockLevel(id=level_id, product_id=product_id, on_hand=on_hand,
                                                         reserved=reserved))
        warehouse_codes[level_id] = code

    allocations: list[Allocation] = []
    changes: list[tuple[StockLevel, int, int]] = []
    missing: dict[str, int] = {}
    for sku, quantity in wanted.items():
        # One warehouse when one can serve the whole line, the fullest first otherwise.
        candidates = sorted(by_sku[sku], key=lambda level: (level.available < quantity, -level.available, level.pk))
        remaining = quantity
        for level in candidates:
            take = min(remaining, level.available)
            if take > 0:
                changes.append((level, 0, take))
                allocations.append(Allocation(sku, level.pk, warehouse_codes[level.pk], take))
                remaining -= take
            if remaining == 0:
                break
        if remaining:
            missing[sku] = remaining
    if missing and not allow_partial:
        available = {sku: wanted[sku] - missing[sku] for sku in missing}
        details = [{"sku": sku, "requested": wanted[sku], "available": available[sku]} for sku in sorted(missing)]
        raise InsufficientStock(
            "; ".join(_("%(sku)s: %(requested)d requested, %(available)d available") % line for line in details),
            fields={"lines": [_("Not enough stock for %(sku)s: %(available)d available.") % line for line in details]},
            lines=details,
        )
    if changes:
        _apply(changes, kind=Movement.RESERVATION, actor=actor, partner=partner, reference=reference)
    return allocations, missing


def _locked(allocations: list[Allocation]) -> dict[int, StockLevel]:
    ids = sorted({allocation.level_id for allocation in allocations})
    return {level.pk: level for level in StockLevel.objects.select_for_update().filter(pk__in=ids).order_by("pk")}


@transaction.atomic
def release(*, allocations: list[Allocation], actor: Actor, partner=None, reference: tuple[str, str],
            reason: str = "") -> None:
    """Give reserved units back to the available stock (order cancelled or changed)."""
    if not allocations:
        return
    levels = _locked(allocations)
    _apply([(levels[a.level_id], 0, -a.quantity) for a in allocations], kind=Movement.RELEASE, actor=actor,
           partner=partner, reference=reference, reason=reason)


@transaction.atomic
def ship(*, allocations: list[Allocation], actor: Actor, partner=None, reference: tuple[str, str]) -> None:
    """Units leave the warehouse: the reservation is consumed, on hand goes down."""
    if not allocations:
        return
    levels = _locked(allocations)
    _apply([(levels[a.level_id], -a.quantity, -a.quantity) for a in allocations], kind=Movement.SHIPMENT,
           actor=actor, partner=partner, reference=reference)


# --- Catalogue --------------------------------------------------------------------------------------


def discount_for(partner) -> Decimal:
    """The wholesale discount of the partner's plan (0 without a subscription). Look it up once per request."""
    from subscriptions.services import plan_terms

    return plan_terms(partner).wholesale_discount if partner is not None else Decimal("0")


def discounted(price_cents: int, discount: Decimal) -> int:
    return round_cents(price_cents * (1 - discount)) if discount else price_cents


def price_for(*, partner, product: Product) -> int:
    """The partner's wholesale price excl. VAT in cents: the catalogue price less its plan's discount."""
    return discounted(product.wholesale_price_cents, discount_for(partner))


@transaction.atomic
def create_product(**fields) -> Product:
    """A new catalogue product, with its (empty) feed row."""
    product = Product(**fields)
    product.full_clean()
    product.save()
    ProductAvailability.objects.create(product=product, sku=product.sku)
    return product


# --- Batches: many products and levels at once (the staff bulk import, the demo) ------------------
# Added with inventory/imports.py: the same ledger, a few set-based statements per 1,000 rows.

BATCH_SIZE = 1000


@dataclass(frozen=True)
class BatchChange:
    """One level in a batch: ``quantity`` is what was counted (stocktake), else the delta."""

    product_id: int
    warehouse_id: int
    quantity: int


class BatchRefused(StockBelowZero):
    """Some changes of a batch would leave less on hand than is reserved: nothing was applied.
    ``details["refused"]`` lists them: index in the batch, on hand, reserved."""


def chunked(items: list, size: int = BATCH_SIZE):
    for start in range(0, len(items), size):
        yield items[start:start + size]


def update_rows(model, names: list[str], rows: list[tuple], *, assignments: dict[str, str], params=()) -> None:
    """Update many rows in set-based statements (used by ``_apply`` and the import).

    ``rows`` are tuples in ``names`` order, the first name the key; ``assignments`` maps each
    column to an SQL expression over the row's current columns (``t.<column>``) and ``v.<name>``, ``%s`` taking
    ``params`` in order. One ``WITH v AS (VALUES ...) UPDATE ... FROM v`` per 1,000 rows, on
    PostgreSQL and SQLite alike: ``bulk_update`` builds a ``CASE`` per row and field, which costs
    seconds per thousand rows (a 50,000-line import spent minutes there)."""
    for chunk in chunked(rows):
        statement = _update_rows_sql(model, tuple(names), len(chunk), tuple(assignments.items()))
        sql.execute(statement, [value for row in chunk for value in row] + list(params))


@functools.cache
def _update_rows_sql(model, names: tuple[str, ...], count: int, assignments: tuple[tuple[str, str], ...]) -> str:
    """The ``WITH v (names) AS (VALUES ...) UPDATE ... FROM v`` statement of ``update_rows`` for ``count`` rows."""
    quote = connection.ops.quote_name
    sets = ", ".join(f"{quote(column)} = {expression}" for column, expression in assignments)
    row = "(" + ", ".join(["%s"] * len(names)) + ")"
    return (f"WITH v ({', '.join(quote(name) for name in names)}) AS (VALUES {', '.join([row] * count)}) "  # noqa: S608 - names from the models, values as parameters
            f"UPDATE {quote(model._meta.db_table)} AS t SET {sets} FROM v "
            f"WHERE t.{quote(names[0])} = v.{quote(names[0])}")


@transaction.atomic
def create_products(*, products: list[Product]) -> list[Product]:
    """New catalogue products and their (empty) feed rows, in bulk.

    The caller has validated every field (the import checks each cell, with its line and column)."""
    created: list[Product] = []
    for chunk in chunked(products):
        created.extend(Product.objects.bulk_create(chunk))
        ProductAvailability.objects.bulk_create([ProductAvailability(product=p, sku=p.sku) for p in chunk])
    return created


@transaction.atomic
def apply_batch(*, kind: str, changes: list[BatchChange], actor: Actor, reason: str = "",
                reference: tuple[str, str] = ("", ""), progress=None) -> list[tuple[int, int]]:
    """Counts, adjustments or receipts of many levels in one transaction: all or nothing.

    Every level is locked first, in primary-key order (as ``reserve`` does, so no deadlock), then
    checked: a count or adjustment that would leave less on hand than is reserved refuses the whole
    batch (``BatchRefused`` names each one). Then one ``_apply`` per 1,000 levels writes the levels,
    their movements and the feed rows. Returns (on hand before, on hand after) for each change, in
    order. ``progress(done)`` is called after each chunk."""
    if kind not in (Movement.COUNT, Movement.ADJUSTMENT, Movement.RECEIPT):
        raise ValueError(f"apply_batch does not do {kind!r}")
    if kind == Movement.ADJUSTMENT and not reason.strip():
        raise DomainError(_("Give the reason for the adjustment."), fields={"reason": [_("Required.")]})
    keys = [(change.product_id, change.warehouse_id) for change in changes]
    if len(set(keys)) != len(keys):
        raise DomainError(_("A batch changes each stock level once."))
    if kind != Movement.ADJUSTMENT:
        for change in changes:
            _check_quantity(change.quantity, allow_zero=kind == Movement.COUNT)

    product_ids = sorted({product_id for product_id, _w in keys})
    for chunk in chunked(keys):
        StockLevel.objects.bulk_create([StockLevel(product_id=p, warehouse_id=w) for p, w in chunk],
                                       ignore_conflicts=True)
    for chunk in chunked(product_ids):
        with_row = set(ProductAvailability.objects.filter(pk__in=chunk).values_list("pk", flat=True))
        missing = [pk for pk in chunk if pk not in with_row]
        if missing:
            ProductAvailability.objects.bulk_create(
                [ProductAvailability(product_id=pk, sku=sku)
                 for pk, sku in Product.objects.filter(pk__in=missing).values_list("pk", "sku")],
                ignore_conflicts=True)

    wanted = set(keys)
    level_ids = []
    for chunk in chunked(product_ids):
        level_ids.extend(pk for pk, p, w in StockLevel.objects.filter(product_id__in=chunk)
                         .values_list("pk", "product_id", "warehouse_id") if (p, w) in wanted)
    levels: dict[tuple[int, int], StockLevel] = {}
    for chunk in chunked(sorted(level_ids)):
        for level in StockLevel.objects.select_for_update().filter(pk__in=chunk).order_by("pk"):
            levels[(level.product_id, level.warehouse_id)] = level

    deltas, refused, before_after = [], [], []
    for index, change in enumerate(changes):
        level = levels[(change.product_id, change.warehouse_id)]
        delta = change.quantity - level.on_hand if kind == Movement.COUNT else change.quantity
        if level.on_hand + delta < level.reserved:
            refused.append({"index": index, "on_hand": level.on_hand, "reserved": level.reserved})
        deltas.append((level, delta))
        before_after.append((level.on_hand, level.on_hand + delta))
    if refused:
        raise BatchRefused(
            _("%(count)d change(s) would leave less on hand than is reserved for orders: nothing was applied.")
            % {"count": len(refused)}, refused=refused)

    done = 0
    for chunk in chunked(deltas):
        effective = [(level, delta, 0) for level, delta in chunk if delta]
        if effective:
            _apply(effective, kind=kind, actor=actor, reference=reference,
                   reason=reason or (_("Stocktake") if kind == Movement.COUNT else ""))
        done += len(chunk)
        if progress is not None:
            progress(done)
    return before_after
