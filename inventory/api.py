"""The stock feed API: availability pages with a change cursor, the catalogue with the calling
partner's price, and the full feed as a CSV or JSON file.

Thin: reads go through ``inventory.feed``. The stock is BigStock's and the same for every
partner; only prices depend on the caller (``request.partner``, from the API key or the
portal session). A stock page is one SQL statement whatever its size, so with the API key
lookup a call costs at most three (``feed.stock_page``).
"""

import csv
import datetime as dt
import hashlib
import json
from dataclasses import replace
from urllib.parse import urlencode

from django.http import StreamingHttpResponse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.http import parse_etags, quote_etag
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
)
from rest_framework import serializers, status
from rest_framework.response import Response

from bigstock import pagination
from bigstock.api import BaseAPIView, ErrorSerializer, error_examples, error_responses
from bigstock.renderers import FileNegotiation

from . import feed
from .services import discount_for

TAGS = ["stock"]
# Partners poll; a few seconds of private caching answers bursts without hiding changes for long
# (a change reaches cursors FEED_SETTLE_DELAY after it happens anyway).
FEED_MAX_AGE_S = 5


# --- Query parameters -------------------------------------------------------------------------------


class QueryParams:
    """The query string, read one parameter at a time (lighter than a serializer on the feed's
    hot path); every refusal is collected and raised at once, in the error format (``invalid``,
    one entry per field)."""

    def __init__(self, request):
        self.params = request.query_params
        self.errors: dict[str, list[str]] = {}

    def refuse(self, name: str, message: str) -> None:
        self.errors[name] = [message]

    def text(self, name: str) -> str | None:
        return self.params.get(name) or None

    def limit(self, *, default: int, maximum: int) -> int:
        raw = self.params.get("limit")
        if raw is None:
            return default
        limit = pagination.parse_limit(raw, maximum)
        if limit is None:
            self.refuse("limit", pagination.limit_refusal(maximum))
            return default
        return limit

    def skus(self) -> tuple[str, ...]:
        """``sku=A,B,C``: a comma-separated list, at most ``FEED_MAX_LIMIT``."""
        skus = tuple(dict.fromkeys(sku.strip() for sku in self.params.get("sku", "").split(",") if sku.strip()))
        if len(skus) > feed.FEED_MAX_LIMIT:
            self.refuse("sku", _("At most %(max)d SKUs at a time.") % {"max": feed.FEED_MAX_LIMIT})
        return skus

    def boolean(self, name: str) -> bool | None:
        raw = self.params.get(name)
        if raw is None or raw == "":
            return None
        if raw.lower() in ("true", "1"):
            return True
        if raw.lower() in ("false", "0"):
            return False
        self.refuse(name, _("Must be true or false."))
        return None

    def moment(self, name: str) -> dt.datetime | None:
        raw = self.params.get(name)
        if not raw:
            return None
        try:
            value = parse_datetime(raw.replace(" ", "+"))  # an unencoded "+01:00" arrives as " 01:00"
        except ValueError:
            value = None
        if value is None:
            self.refuse(name, _("An ISO 8601 date and time, such as 2030-01-31T08:00:00Z."))
            return None
        return value if timezone.is_aware(value) else timezone.make_aware(value, dt.UTC)

    def change_cursor(self, name: str) -> int | None:
        raw = self.params.get(name)
        if raw is None:
            return None
        if not raw.isascii() or not raw.isdigit() or len(raw) > 18:
            self.refuse(name, _("Pass the `change_cursor` of a previous response."))
            return None
        return int(raw)

    def check(self) -> None:
        if self.errors:
            raise serializers.ValidationError(self.errors)


def next_url(request, position: dict | None) -> str | None:
    """The same request from ``position`` on (every filter kept), or None after the last page."""
    if position is None:
        return None
    query = [(name, value) for name, values in request.GET.lists() if name != "cursor" for value in values]
    query.append(("cursor", feed.encode_position(position)))
    return request.build_absolute_uri(f"{request.path}?{urlencode(query)}")


def conditional(request, etag: str, body_of, *, max_age_s: int) -> Response:
    """The answer with ``ETag`` and ``Cache-Control``: a bodiless 304 when the client already has
    this ``etag`` (``If-None-Match``), else ``body_of()``, built only then."""
    etag = quote_etag(etag)
    wanted = parse_etags(request.headers.get("If-None-Match", ""))
    if etag in wanted or f"W/{etag}" in wanted or "*" in wanted:
        response = Response(status=status.HTTP_304_NOT_MODIFIED)
    else:
        response = Response(body_of())
    response["ETag"] = etag
    response["Cache-Control"] = f"private, max-age={max_age_s}"
    return response


# --- Schema ----------------------------------------------------------------------------------------

class StockRowSerializer(serializers.Serializer):
    sku = serializers.CharField()
    available = serializers.IntegerField(help_text=gettext_lazy(
        "Units that can be ordered now, over every warehouse (on hand minus reserved)."))


class StockPageSerializer(serializers.Serializer):
    results = StockRowSerializer(many=True)
    next = serializers.URLField(allow_null=True, help_text=gettext_lazy(
        "The next page (same filters); null on the last page."))
    change_cursor = serializers.CharField(help_text=gettext_lazy(
        "Once `next` is null, keep this and call `?changes_since=<it>` later: only what changed since. "
        "The same on every page of one walk."))


class LocalizedSerializer(serializers.Serializer):
    fr = serializers.CharField()
    en = serializers.CharField()


class DimensionsSerializer(serializers.Serializer):
    length = serializers.IntegerField()
    width = serializers.IntegerField()
    height = serializers.IntegerField()


class ProductSerializer(serializers.Serializer):
    """Documents ``feed.product_entry``, which builds the rows."""

    sku = serializers.CharField()
    gtin = serializers.CharField(help_text=gettext_lazy("GTIN/EAN (8, 12, 13 or 14 digits), empty when none."))
    name = LocalizedSerializer()
    description = LocalizedSerializer()
    brand = serializers.CharField()
    category = serializers.CharField()
    weight_g = serializers.IntegerField()
    dimensions_mm = DimensionsSerializer()
    country_of_origin = serializers.CharField(allow_null=True, help_text=gettext_lazy("ISO 3166-1 alpha-2."))
    hs_code = serializers.CharField(help_text=gettext_lazy("Customs (HS) code."))
    price_cents = serializers.IntegerField(help_text=gettext_lazy(
        "Your wholesale price excl. VAT: the catalogue price less your plan's discount."))
    retail_price_cents = serializers.IntegerField(help_text=gettext_lazy("Recommended retail price incl. VAT."))
    currency = serializers.CharField()
    vat_class = serializers.CharField()
    vat_rate = serializers.CharField(help_text=gettext_lazy("A fraction: \"0.20\" is 20 %."))
    active = serializers.BooleanField(help_text=gettext_lazy("Inactive products can no longer be ordered."))
    image_url = serializers.CharField()
    available = serializers.IntegerField()
    incoming_on = serializers.DateField(allow_null=True, help_text=gettext_lazy(
        "When the next supplier delivery is expected, if one is."))
    updated_at = serializers.DateTimeField()


class ProductPageSerializer(serializers.Serializer):
    results = ProductSerializer(many=True)
    next = serializers.URLField(allow_null=True)


NOT_MODIFIED = {304: OpenApiResponse(description=gettext_lazy(
    "Not modified: the `ETag` you sent in `If-None-Match` is still current. No body."))}
UNKNOWN_SKU = OpenApiExample(
    "Unknown SKU", status_codes=["404"], response_only=True,
    value={"error": {"code": "unknown_sku", "message": "Unknown SKU: MUG-404.", "skus": ["MUG-404"],
                     "fields": {"sku": ["Unknown SKU MUG-404."]}}},
)
INVALID_CURSOR = OpenApiExample(
    "Bad cursor", status_codes=["400"], response_only=True,
    value={"error": {"code": "invalid_cursor", "fields": {"cursor": ["Not a cursor from this API."]},
                     "message": "This cursor is not valid: follow the `next` link of a previous page."}},
)
UNKNOWN_SKU_RESPONSE = OpenApiResponse(ErrorSerializer, description=gettext_lazy(
    "`unknown_sku`: no product has this SKU."))
CURSOR_PARAMETERS = [
    OpenApiParameter("cursor", OpenApiTypes.STR, description=gettext_lazy(
        "Set by `next` links: follow them rather than building it.")),
]


# --- Stock --------------------------------------------------------------------------------------


class StockView(BaseAPIView):
    """``/stock``: availability by SKU, paged, with a change cursor."""

    @extend_schema(
        operation_id="stock_list", summary="Stock feed: availability by SKU", tags=TAGS,
        description=(
            "Every SKU with its availability, in SKU order, paged (`limit` up to "
            f"{feed.FEED_MAX_LIMIT}). Follow `next` until it is null, then keep `change_cursor`; later, "
            "`?changes_since=<change_cursor>` returns only the SKUs whose availability changed since, in "
            "the order they changed (follow `next` again). Changes reach the cursor "
            f"{int(feed.FEED_SETTLE_DELAY.total_seconds())} seconds after they happen, so none is ever "
            "skipped; a SKU may come twice. Send the page's `ETag` back in `If-None-Match`: 304 while "
            "nothing changed. With a webhook endpoint subscribed to `stock.changed`, BigStock tells you "
            "instead of you polling."
        ),
        parameters=[
            OpenApiParameter("sku", OpenApiTypes.STR, description=gettext_lazy(
                "Only these SKUs, comma-separated (at most 1000); an unknown one is refused (404 `unknown_sku`).")),
            OpenApiParameter("updated_since", OpenApiTypes.DATETIME, description=gettext_lazy(
                "Only SKUs whose availability changed at or after this time (ISO 8601).")),
            OpenApiParameter("in_stock", OpenApiTypes.BOOL, description=gettext_lazy(
                "`true`: only SKUs available now; `false`: only those that are not.")),
            OpenApiParameter("changes_since", OpenApiTypes.STR, description=gettext_lazy(
                "A `change_cursor` from a previous response: only what changed after it.")),
            OpenApiParameter("limit", OpenApiTypes.INT, description=gettext_lazy("1 to 1000, default 100.")),
            *CURSOR_PARAMETERS,
        ],
        responses={200: StockPageSerializer, **NOT_MODIFIED, **error_responses(400, 404)},
        examples=[
            OpenApiExample("A page", response_only=True, status_codes=["200"], value={
                "results": [{"sku": "MUG-001", "available": 42}, {"sku": "MUG-002", "available": 0}],
                "next": "https://bigstock.example/api/v1/stock?limit=2&cursor=eyJhZnRlciI6Ik1VRy0wMDIifQ",
                "change_cursor": "918273",
            }),
            UNKNOWN_SKU, INVALID_CURSOR, *error_examples(),
        ],
    )
    def get(self, request):
        params = QueryParams(request)
        query = feed.StockQuery(
            skus=params.skus(), updated_since=params.moment("updated_since"), in_stock=params.boolean("in_stock"),
            changes_since=params.change_cursor("changes_since"), limit=params.limit(
                default=feed.FEED_DEFAULT_LIMIT, maximum=feed.FEED_MAX_LIMIT),
        )
        cursor = params.text("cursor")
        params.check()
        if cursor is not None:
            after, as_of = feed.position_of(cursor, changes=query.changes_since is not None)
            query = replace(query, after=after, as_of=as_of)
        page = feed.stock_page(query)
        # The page changes only when the settled cursor moves (or a filter differs).
        etag = hashlib.blake2b(f"{page.settled_cursor}?{sorted(request.query_params.lists())}".encode(),
                               digest_size=16).hexdigest()
        return conditional(request, etag, lambda: {
            "results": [{"sku": sku, "available": available} for sku, available, _seq in page.rows],
            "next": next_url(request, feed.next_position(query, page)),
            "change_cursor": str(page.change_cursor),
        }, max_age_s=FEED_MAX_AGE_S)


# --- Products -------------------------------------------------------------------------------------


def _body_etag(body) -> str:
    """Catalogue pages depend on the product rows and the partner's plan: hash what is sent."""
    return hashlib.blake2b(json.dumps(body, sort_keys=True, default=str).encode(), digest_size=16).hexdigest()


class ProductListView(BaseAPIView):
    """``/products``: the catalogue with the calling partner's price."""

    @extend_schema(
        operation_id="product_list", summary="Catalogue with your prices", tags=TAGS,
        description="Every product in SKU order, paged (`limit` up to "
                    f"{feed.PRODUCTS_MAX_LIMIT}): names and descriptions in French and English, weight, "
                    "dimensions, GTIN, VAT rate, your price after your plan's discount, availability and "
                    "the next expected delivery. `ETag` / `If-None-Match` as for `/stock`.",
        parameters=[
            OpenApiParameter("sku", OpenApiTypes.STR, description=gettext_lazy(
                "Only these SKUs, comma-separated (at most 1000).")),
            OpenApiParameter("active", OpenApiTypes.BOOL, description=gettext_lazy(
                "`true`: only products that can be ordered.")),
            OpenApiParameter("limit", OpenApiTypes.INT, description=gettext_lazy("1 to 500, default 100.")),
            *CURSOR_PARAMETERS,
        ],
        responses={200: ProductPageSerializer, **NOT_MODIFIED, **error_responses(400)},
        examples=[INVALID_CURSOR, *error_examples()],
    )
    def get(self, request):
        params = QueryParams(request)
        skus, is_active, cursor = params.skus(), params.boolean("active"), params.text("cursor")
        limit = params.limit(default=feed.PRODUCTS_DEFAULT_LIMIT, maximum=feed.PRODUCTS_MAX_LIMIT)
        params.check()
        after = None
        if cursor is not None:
            after = feed.decode_position(cursor).get("after")
            if not isinstance(after, str):
                raise pagination.InvalidCursor(_("This cursor belongs to another listing: follow the `next` link."),
                                               fields={"cursor": [_("Not a cursor of this listing.")]})
        products, has_more = feed.product_page(skus=skus, is_active=is_active, after=after, limit=limit)
        discount = discount_for(request.partner)
        body = {
            "results": [feed.product_entry(product, discount=discount) for product in products],
            "next": next_url(request, {"after": products[-1].sku} if has_more else None),
        }
        return conditional(request, _body_etag(body), lambda: body, max_age_s=FEED_MAX_AGE_S)


class ProductDetailView(BaseAPIView):
    """``/products/{sku}``: one product with the calling partner's price."""

    @extend_schema(
        operation_id="product_retrieve", summary="A product, with your price", tags=TAGS,
        responses={200: ProductSerializer, **NOT_MODIFIED, **error_responses(),
                   404: UNKNOWN_SKU_RESPONSE},
        examples=[OpenApiExample(
            "Unknown SKU", status_codes=["404"], response_only=True,
            value={"error": {"code": "unknown_sku", "message": "No product with SKU MUG-404.", "fields": {},
                             "skus": ["MUG-404"]}},
        ), *error_examples()],
    )
    def get(self, request, sku: str):
        body = feed.product_entry(feed.product_by_sku(sku), discount=discount_for(request.partner))
        return conditional(request, _body_etag(body), lambda: body, max_age_s=FEED_MAX_AGE_S)


# --- Downloads ---------------------------------------------------------------------------------------


class _Echo:
    """A file-like object ``csv.writer`` writes to, returning each line to stream it."""

    def write(self, value: str) -> str:
        return value


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value):
    """Text a spreadsheet would run as a formula is quoted (CSV injection); numbers stay numbers."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def _csv_lines(rows):
    writer = csv.writer(_Echo())
    yield writer.writerow(feed.EXPORT_COLUMNS)
    for row in rows:
        yield writer.writerow([_cell(row[column]) for column in feed.EXPORT_COLUMNS])


def _json_chunks(rows, *, change_cursor: int):
    yield f'{{"change_cursor":"{change_cursor}","products":['
    separator = ""
    for row in rows:
        yield separator + json.dumps(row, ensure_ascii=False, separators=(",", ":"))
        separator = ","
    yield "]}"


class StockExportRowSerializer(serializers.Serializer):
    sku = serializers.CharField()
    gtin = serializers.CharField()
    name_fr = serializers.CharField()
    name_en = serializers.CharField()
    brand = serializers.CharField()
    category = serializers.CharField()
    available = serializers.IntegerField()
    incoming_on = serializers.DateField(allow_null=True)
    price_cents = serializers.IntegerField(help_text=gettext_lazy("Your price excl. VAT."))
    retail_price_cents = serializers.IntegerField()
    currency = serializers.CharField()
    vat_rate = serializers.CharField()
    active = serializers.BooleanField()
    weight_g = serializers.IntegerField()


class StockExportSerializer(serializers.Serializer):
    change_cursor = serializers.CharField()
    products = StockExportRowSerializer(many=True)


EXPORT_DESCRIPTION = gettext_lazy(
    "Every product in one file, streamed: SKU, GTIN, names, brand, category, availability, next "
    "expected delivery, your price excl. VAT (cents), recommended retail price, VAT rate, active, weight. "
    "The `X-Change-Cursor` header is the cursor to pass as `changes_since` to `/stock` afterwards. "
    "The portal's download buttons use these same addresses."
)


class StockExportView(BaseAPIView):
    """``/stock/export.csv`` and ``/stock/export.json``: the whole feed as a file."""

    content_negotiation_class = FileNegotiation  # a file whatever Accept says; errors in JSON
    file_format = "csv"

    def get(self, request):
        change_cursor = feed.settled_change_cursor()  # before reading: the rows are at least this fresh
        rows = feed.export_rows(partner=request.partner)
        if self.file_format == "csv":
            response = StreamingHttpResponse(_csv_lines(rows), content_type="text/csv; charset=utf-8")
        else:
            response = StreamingHttpResponse(_json_chunks(rows, change_cursor=change_cursor),
                                             content_type="application/json")
        filename = f"bigstock-stock-{timezone.localdate():%Y%m%d}.{self.file_format}"
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        response["X-Change-Cursor"] = str(change_cursor)
        response["Cache-Control"] = "private, no-store"
        return response


class StockCsvExportView(StockExportView):
    file_format = "csv"

    @extend_schema(
        operation_id="stock_export_csv", summary="Download the feed as CSV", tags=TAGS,
        description=EXPORT_DESCRIPTION,
        responses={(200, "text/csv"): OpenApiResponse(OpenApiTypes.BINARY, description=gettext_lazy(
            "UTF-8 CSV with a header line, as an attachment.")), **error_responses()},
        examples=error_examples(),
    )
    def get(self, request):
        return super().get(request)


class StockJsonExportView(StockExportView):
    file_format = "json"

    @extend_schema(
        operation_id="stock_export_json", summary="Download the feed as JSON", tags=TAGS,
        description=EXPORT_DESCRIPTION,
        responses={(200, "application/json"): OpenApiResponse(
            StockExportSerializer, description=gettext_lazy("`{change_cursor, products: [...]}`, as an attachment.")),
            **error_responses()},
        examples=error_examples(),
    )
    def get(self, request):
        return super().get(request)
