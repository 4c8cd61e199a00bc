"""The partner stock feed: availability pages with a change cursor, the catalogue with the
partner's price, full downloads, and the batched ``stock.changed`` event.

The change cursor is a ledger position. ``ProductAvailability.change_seq`` is the id of the
last ``StockMovement`` that changed the row, so "what changed since cursor C" is the rows
with ``change_seq > C``. Movement ids are taken when a transaction writes, not when it
commits: a transaction that took id 100 may commit after one that took 101. A cursor
therefore only ever moves up to the *settled* position (``settled_change_cursor``): the
newest movement written more than ``FEED_SETTLE_DELAY`` ago and, on PostgreSQL, before the
oldest transaction that is still writing (a long all-or-nothing import holds the cursor back
until it commits, instead of being skipped). A client that stores the cursor and asks again
later never misses a change; it may see a row twice.

Stock rows are BigStock's, the same for every partner; only prices are per partner, from
the partner's plan, looked up once per request.
"""

import base64
import binascii
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

import orjson
from django.db import connection, transaction
from django.db.models import F, Subquery
from django.db.models.expressions import OuterRef
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from bigstock import events, pagination, sql
from bigstock.models import WebhookEndpoint
from partners.models import Partner

from .models import (
    VAT_RATES,
    Product,
    ProductAvailability,
    Receipt,
    ReceiptLine,
    StockChangePublication,
    StockMovement,
)
from .services import UnknownSku, discount_for, discounted

logger = logging.getLogger(__name__)

# A change becomes visible to cursors this long after its movement was written, so that a
# transaction that took an earlier id but commits a little later is not skipped.
FEED_SETTLE_DELAY = timedelta(seconds=2)
FEED_DEFAULT_LIMIT = 100
FEED_MAX_LIMIT = 1000
PRODUCTS_DEFAULT_LIMIT = 100
PRODUCTS_MAX_LIMIT = 500
# A stock.changed event lists at most this many SKUs; past it, ``has_more`` is true and the
# feed's ``changes_since`` gives the whole list.
STOCK_CHANGED_MAX_SKUS = 1000
CURRENCY = "EUR"

# On PostgreSQL, the cursor also stays before the start of the oldest transaction that has
# written something (``backend_xid``) and is still open: its movements may commit later.
# Read-only transactions (reports, backups) hold nothing back.
_PG_SETTLED_BEFORE = (
    "LEAST(%s, COALESCE((SELECT MIN(a.xact_start) FROM pg_stat_activity a WHERE a.backend_xid IS NOT NULL "
    "AND a.datname = current_database() AND a.pid <> pg_backend_pid()), 'infinity'::timestamptz) - %s)"
)


# --- Cursors ------------------------------------------------------------------------------------


def encode_position(position: dict) -> str:
    """The opaque ``cursor`` of a ``next`` link (a position in a listing, not a secret)."""
    return base64.urlsafe_b64encode(orjson.dumps(position)).rstrip(b"=").decode()


def decode_position(cursor: str) -> dict:
    try:
        position = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, binascii.Error):  # orjson.JSONDecodeError is a ValueError
        position = None
    if not isinstance(position, dict):
        raise pagination.invalid_cursor()
    return position


# The feed's statements are written out rather than compiled by the ORM on every call: their
# shapes are few and fixed, and a page is the API's hottest path. Every value is a parameter.
_AVAILABILITY = ProductAvailability._meta.db_table
_MOVEMENTS = StockMovement._meta.db_table


def _newest_movement_sql(bound: str) -> str:
    return (f"COALESCE((SELECT id FROM {_MOVEMENTS} WHERE created_at {bound} "  # noqa: S608 (constant SQL)
            "ORDER BY created_at DESC LIMIT 1), 0)")


def _settled_cursor_sql() -> tuple[str, list]:
    """SQL for the settled change cursor: the newest settled movement id (0 before any)."""
    cutoff = connection.ops.adapt_datetimefield_value(timezone.now() - FEED_SETTLE_DELAY)
    if connection.vendor == "postgresql":
        return _newest_movement_sql(f"<= {_PG_SETTLED_BEFORE}"), [cutoff, FEED_SETTLE_DELAY]
    return _newest_movement_sql("<= %s"), [cutoff]


def settled_change_cursor() -> int:
    """The ledger position up to which every change is committed (see the module docstring)."""
    expression, params = _settled_cursor_sql()
    return sql.fetch(f"SELECT {expression}", params)[0][0]


# --- Stock pages ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StockQuery:
    """One page of the stock feed. ``changes_since`` switches from the catalogue order (by SKU)
    to the change order (by ``change_seq``, then SKU), up to ``as_of`` (a settled cursor)."""

    skus: tuple[str, ...] = ()
    updated_since: datetime | None = None
    in_stock: bool | None = None
    changes_since: int | None = None
    after: str | tuple[int, str] | None = None
    as_of: int | None = None
    limit: int = FEED_DEFAULT_LIMIT


@dataclass(frozen=True)
class StockPage:
    rows: list[tuple[str, int, int]]  # (sku, available, change_seq)
    has_more: bool
    settled_cursor: int  # the settled cursor now, whatever the page
    change_cursor: int  # where this walk's changes end: the same on every page of one walk


def stock_page(query: StockQuery) -> StockPage:
    """A page of ``(sku, available)`` in ONE statement, whatever its size: the settled cursor
    comes along as an extra row (a page may be empty), and so does the count of the SKUs asked
    for that exist (an unknown one is refused with ``UnknownSku``, named)."""
    cursor_sql, cursor_params = _settled_cursor_sql()
    where, params = ["1 = 1"], []
    skus_in = f"sku IN ({', '.join(['%s'] * len(query.skus))})"
    if query.skus:
        where.append(skus_in)
        params += query.skus
    if query.in_stock is not None:
        where.append("available > 0" if query.in_stock else "available <= 0")
    if query.updated_since is not None:
        # Rows changed since then have a later ledger position than the last movement before it.
        where.append(f"change_seq > {_newest_movement_sql('< %s')}")
        params.append(connection.ops.adapt_datetimefield_value(query.updated_since))
    if query.changes_since is not None:
        where += ["change_seq > %s", "change_seq <= %s" if query.as_of is not None else
                  "change_seq <= (SELECT seq FROM settled)"]
        params += [query.changes_since] + ([query.as_of] if query.as_of is not None else [])
        if query.after is not None:
            where.append("(change_seq > %s OR (change_seq = %s AND sku > %s))")
            params += [query.after[0], query.after[0], query.after[1]]
        order = "change_seq, sku"
    else:
        if query.after is not None:
            where.append("sku > %s")
            params.append(query.after)
        order = "sku"
    known_sql, known_params = "NULL", []
    if query.skus:
        known_sql = f"(SELECT COUNT(*) FROM {_AVAILABILITY} WHERE {skus_in})"  # noqa: S608 (values as parameters)
        known_params = list(query.skus)
    statement = (
        f"WITH settled AS (SELECT {cursor_sql} AS seq) "  # noqa: S608 (constant SQL, values as parameters)
        f"SELECT NULL, NULL, settled.seq, {known_sql} FROM settled UNION ALL "
        f"SELECT sku, available, change_seq, NULL FROM (SELECT sku, available, change_seq FROM {_AVAILABILITY} "
        f"WHERE {' AND '.join(where)} ORDER BY {order} LIMIT %s) page "
        f"ORDER BY {'3, 1' if query.changes_since is not None else '1'}"
    )
    params = [*cursor_params, *known_params, *params, query.limit + 1]
    found, settled, known = [], 0, None
    for sku, available, seq, count in sql.fetch(statement, params):
        if sku is None:
            settled, known = seq, count
        else:
            found.append((sku, available, seq))
    if query.skus and known is not None and known < len(query.skus):
        _refuse_unknown(query.skus)
    as_of = query.as_of if query.as_of is not None else settled
    if query.changes_since is not None:
        as_of = max(as_of, query.changes_since)  # a cursor never moves back
    return StockPage(rows=found[: query.limit], has_more=len(found) > query.limit, settled_cursor=settled,
                     change_cursor=as_of)


def _refuse_unknown(skus) -> None:
    unknown = sorted(set(skus) - set(Product.objects.filter(sku__in=skus).values_list("sku", flat=True)))
    raise UnknownSku(_("Unknown SKU: %(skus)s.") % {"skus": ", ".join(unknown)},
                     fields={"sku": [_("Unknown SKU %(sku)s.") % {"sku": sku} for sku in unknown]}, skus=unknown)


def next_position(query: StockQuery, page: StockPage) -> dict | None:
    """Where the next page starts (for ``encode_position``), or None after the last page."""
    if not page.has_more:
        return None
    sku, _available, seq = page.rows[-1]
    after = [seq, sku] if query.changes_since is not None else sku
    return {"after": after, "as_of": page.change_cursor}


def position_of(cursor: str, *, changes: bool) -> tuple[str | tuple[int, str], int]:
    """(after, as_of) from a ``next`` link's cursor, checked for the listing it belongs to."""
    position = decode_position(cursor)
    after, as_of = position.get("after"), position.get("as_of")
    if changes:
        valid = (isinstance(after, list) and len(after) == 2 and isinstance(after[0], int)
                 and isinstance(after[1], str))
        after = tuple(after) if valid else None
    else:
        valid = isinstance(after, str)
    if not valid or not isinstance(as_of, int) or as_of < 0:
        raise pagination.InvalidCursor(_("This cursor belongs to another listing: follow the `next` link with "
                                         "the same filters."), fields={"cursor": [_("Not a cursor of this listing.")]})
    return after, as_of


# --- The catalogue, with the partner's price -----------------------------------------------------


def _incoming_on():
    """The earliest expected date of supply still to come for the product (None when none)."""
    outstanding = ReceiptLine.objects.filter(
        product=OuterRef("pk"), receipt__status__in=[Receipt.Status.EXPECTED, Receipt.Status.PARTIAL],
        quantity_received__lt=F("quantity_expected"),
    ).order_by("receipt__expected_on").values("receipt__expected_on")[:1]
    return Subquery(outstanding)


def catalogue():
    """Products with their availability and incoming date, in SKU order (one statement a page)."""
    return (Product.objects.select_related("availability").annotate(incoming_on=_incoming_on())
            .order_by("sku"))


def product_page(*, skus=(), is_active: bool | None = None, after: str | None = None,
                 limit: int = PRODUCTS_DEFAULT_LIMIT) -> tuple[list[Product], bool]:
    products = catalogue()
    if skus:
        products = products.filter(sku__in=skus)
    if is_active is not None:
        products = products.filter(is_active=is_active)
    if after is not None:
        products = products.filter(sku__gt=after)
    found = list(products[: limit + 1])
    return found[:limit], len(found) > limit


def product_by_sku(sku: str) -> Product:
    product = catalogue().filter(sku=sku).first()
    if product is None:
        raise UnknownSku(_("No product with SKU %(sku)s.") % {"sku": sku}, skus=[sku])
    return product


def _iso(value) -> str | None:
    return value.isoformat() if value is not None else None


def product_entry(product: Product, *, discount: Decimal) -> dict:
    """A product as partners receive it: both languages, their own price after their discount."""
    availability = getattr(product, "availability", None)
    return {
        "sku": product.sku,
        "gtin": product.gtin,
        "name": {"fr": product.name_fr, "en": product.name_en},
        "description": {"fr": product.description_fr, "en": product.description_en},
        "brand": product.brand,
        "category": product.category,
        "weight_g": product.weight_g,
        "dimensions_mm": {"length": product.length_mm, "width": product.width_mm, "height": product.height_mm},
        "country_of_origin": product.country_of_origin.code or None,
        "hs_code": product.hs_code,
        "price_cents": discounted(product.wholesale_price_cents, discount),
        "retail_price_cents": product.retail_price_cents,
        "currency": CURRENCY,
        "vat_class": product.vat_class,
        "vat_rate": str(product.vat_rate),
        "active": product.is_active,
        "image_url": product.image_url,
        "available": availability.available if availability is not None else 0,
        "incoming_on": _iso(product.incoming_on),
        "updated_at": product.updated_at.isoformat().replace("+00:00", "Z"),
    }


# --- The full feed as a file ------------------------------------------------------------------------

EXPORT_COLUMNS = ("sku", "gtin", "name_fr", "name_en", "brand", "category", "available", "incoming_on",
                  "price_cents", "retail_price_cents", "currency", "vat_rate", "active", "weight_g")


def export_rows(*, partner) -> Iterator[dict]:
    """Every product, flat (one row per SKU, ``EXPORT_COLUMNS``), with the partner's price;
    read in chunks (a server-side cursor on PostgreSQL), so 50,000 products stream in constant memory."""
    return _export_rows(discount=discount_for(partner))  # looked up now, not once streaming has started


def _export_rows(*, discount: Decimal) -> Iterator[dict]:
    products = (Product.objects.annotate(incoming_on=_incoming_on(), available=Coalesce("availability__available", 0))
                .order_by("sku")
                .values_list("sku", "gtin", "name_fr", "name_en", "brand", "category", "available", "incoming_on",
                             "wholesale_price_cents", "retail_price_cents", "vat_class", "is_active", "weight_g"))
    rates = {key: str(rate) for key, rate in VAT_RATES.items()}
    for (sku, gtin, name_fr, name_en, brand, category, available, incoming_on, price_cents, retail_price_cents,
         vat_class, is_active, weight_g) in products.iterator(chunk_size=2000):
        yield {
            "sku": sku, "gtin": gtin, "name_fr": name_fr, "name_en": name_en, "brand": brand,
            "category": category, "available": available, "incoming_on": _iso(incoming_on),
            "price_cents": discounted(price_cents, discount), "retail_price_cents": retail_price_cents,
            "currency": CURRENCY, "vat_rate": rates[vat_class], "active": is_active, "weight_g": weight_g,
        }


# --- stock.changed, batched ------------------------------------------------------------------------


def _subscribers() -> list[Partner]:
    """Partners with an enabled webhook endpoint that wants ``stock.changed`` (the others poll)."""
    endpoints = (WebhookEndpoint.objects.filter(enabled=True).exclude(partner__status=Partner.Status.CLOSED)
                 .only("partner_id", "event_types"))
    wanted = {endpoint.partner_id for endpoint in endpoints if endpoint.wants("stock.changed")}
    return list(Partner.objects.filter(pk__in=wanted).order_by("pk"))


@transaction.atomic
def publish_stock_changes() -> int:
    """Publish ONE ``stock.changed`` event per subscribed partner listing every SKU whose
    availability changed since the last batch; returns the number of events.

    Run every few seconds by beat: a flood of movements within a window becomes one event per
    partner, not one per movement. The position is kept in ``StockChangePublication`` (locked,
    so two batchers never publish the same changes); the first run starts from now.
    """
    mark, created = StockChangePublication.objects.select_for_update().get_or_create(pk=1)
    settled = settled_change_cursor()
    if created or settled <= mark.last_change_seq:
        if created:
            mark.last_change_seq = settled
            mark.save(update_fields=["last_change_seq"])
        return 0
    changed = list(
        ProductAvailability.objects.filter(change_seq__gt=mark.last_change_seq, change_seq__lte=settled)
        .order_by("change_seq", "sku").values_list("sku", "available")[: STOCK_CHANGED_MAX_SKUS + 1]
    )
    payload = {
        "changes": [{"sku": sku, "available": available} for sku, available in changed[:STOCK_CHANGED_MAX_SKUS]],
        "has_more": len(changed) > STOCK_CHANGED_MAX_SKUS,
        "changes_since": str(mark.last_change_seq),
        "change_cursor": str(settled),
    }
    partners = _subscribers() if changed else []
    for partner in partners:
        events.publish(partner=partner, type="stock.changed", data=payload)
    mark.last_change_seq = settled
    mark.published_at = timezone.now()
    mark.save(update_fields=["last_change_seq", "published_at"])
    if partners:
        logger.info("stock.changed published", extra={"skus": len(payload["changes"]), "partners": len(partners),
                                                       "change_cursor": settled})
    return len(partners)
