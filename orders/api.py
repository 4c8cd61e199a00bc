"""The orders API: submit (with ``Idempotency-Key``), list, read, cancel, fix the address of an
order on hold, run the checks again, follow the shipments.

Thin: every change is one call to ``orders.services``; reads go through the partner-scoped
queryset of ``PartnerScopedViewSet``. Money is integer cents with a ``currency``, times ISO 8601
UTC, ids public (``ord_...``, ``shp_...``).
"""

from django.db.models import Exists, OuterRef, Prefetch
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
)
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response

from bigstock.api import (
    ErrorDetailSerializer,
    ErrorSerializer,
    PartnerScopedViewSet,
    PublicIdField,
    error_examples,
    error_responses,
    validated,
)
from inventory.services import UnknownSku
from partners.audit import Actor, shown_actor

from . import services
from .models import CarrierService, Order, OrderLine, Reservation, Shipment, ShipmentLine, Status
from .views import latest_checks

TAGS = ["orders"]


# --- Input ----------------------------------------------------------------------------------------


class ShipToInputSerializer(serializers.Serializer):
    """The end customer's delivery address. Postcode and phone are checked for the country by the
    pre-shipment checks (a wrong one puts the order on hold, with what to do)."""

    name = serializers.CharField(max_length=200)
    company = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    line1 = serializers.CharField(max_length=200)
    line2 = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    postcode = serializers.CharField(max_length=20)
    city = serializers.CharField(max_length=100)
    country = serializers.CharField(max_length=2, min_length=2, help_text=gettext_lazy("ISO 3166-1 alpha-2: FR, BE…"))
    phone = serializers.CharField(max_length=30, required=False, allow_blank=True, default="",
                                  help_text=gettext_lazy("With its country code: +33612345678."))
    email = serializers.EmailField(max_length=254, required=False, allow_blank=True, default="")


class AddressChangeSerializer(ShipToInputSerializer):
    """Only the fields sent change; the others keep their value."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, partial=True, **kwargs)


class LineInputSerializer(serializers.Serializer):
    sku = serializers.CharField(max_length=64)
    quantity = serializers.IntegerField(min_value=1, max_value=100_000)


class OrderInputSerializer(serializers.Serializer):
    reference = serializers.CharField(max_length=64, help_text=gettext_lazy(
        "Your own order number, unique among your orders: sending it again answers 409 with the first order's id."))
    ship_to = ShipToInputSerializer()
    lines = LineInputSerializer(many=True, allow_empty=False, max_length=services.MAX_LINES, help_text=gettext_lazy(
        "The same SKU on several lines is one line with the total quantity."))
    notes = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")
    carrier_service = serializers.ChoiceField(choices=CarrierService.choices, default=CarrierService.STANDARD)
    backorder = serializers.BooleanField(default=False, help_text=gettext_lazy(
        "false (default): missing stock refuses the order (409 with the available quantities). "
        "true: what is in stock is reserved and the order waits on hold for the rest."))


class CancelInputSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


class OrderFilterSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=Status.choices, required=False)
    reference = serializers.CharField(required=False)
    sku = serializers.CharField(required=False)
    created_after = serializers.DateTimeField(required=False)
    created_before = serializers.DateTimeField(required=False)


# --- Output ---------------------------------------------------------------------------------------


class ShipToSerializer(serializers.Serializer):
    name = serializers.CharField(source="ship_to_name")
    company = serializers.CharField(source="ship_to_company")
    line1 = serializers.CharField(source="ship_to_line1")
    line2 = serializers.CharField(source="ship_to_line2")
    postcode = serializers.CharField(source="ship_to_postcode")
    city = serializers.CharField(source="ship_to_city")
    country = serializers.CharField(source="ship_to_country.code")
    phone = serializers.CharField(source="ship_to_phone")
    email = serializers.CharField(source="ship_to_email")


class OrderLineSerializer(serializers.Serializer):
    sku = serializers.CharField()
    quantity = serializers.IntegerField()
    quantity_reserved = serializers.IntegerField(help_text=gettext_lazy("Held for this order in a warehouse."))
    quantity_backordered = serializers.IntegerField(help_text=gettext_lazy("Waiting for stock (backorder)."))
    quantity_shipped = serializers.IntegerField()
    unit_price_cents = serializers.IntegerField(help_text=gettext_lazy(
        "Your price excl. VAT at submission (your plan's discount applied), frozen."))
    amount_cents = serializers.IntegerField()


class OrderSerializer(serializers.Serializer):
    """An order as listed and as answered to a submission."""

    id = PublicIdField()
    reference = serializers.CharField()
    status = serializers.ChoiceField(choices=Status.choices)
    ship_to = ShipToSerializer(source="*")
    lines = OrderLineSerializer(many=True)
    notes = serializers.CharField()
    carrier_service = serializers.ChoiceField(choices=CarrierService.choices)
    backorder = serializers.BooleanField()
    currency = serializers.CharField()
    subtotal_cents = serializers.IntegerField(help_text=gettext_lazy("Sum of the lines, excl. VAT."))
    submitted_at = serializers.DateTimeField()
    checked_at = serializers.DateTimeField(allow_null=True, help_text=gettext_lazy(
        "When the checks first ran (running them again after a fix keeps it)."))
    shipped_at = serializers.DateTimeField(allow_null=True)
    delivered_at = serializers.DateTimeField(allow_null=True)
    cancelled_at = serializers.DateTimeField(allow_null=True)
    updated_at = serializers.DateTimeField()

    def to_representation(self, order) -> dict:
        # Written out: building DRF's nested fields cost more than the rest of a submission's answer.
        # The fields above document it, and a test holds the two equal. Subclasses add fields: theirs.
        if type(self) is not OrderSerializer:
            return super().to_representation(order)
        return {
            "id": order.public_id,
            "reference": order.reference,
            "status": order.status,
            "ship_to": {field: order.ship_to_country.code if field == "country" else str(getattr(order, f"ship_to_{field}"))
                        for field in services.SHIP_TO_FIELDS},
            "lines": [{"sku": line.sku, "quantity": line.quantity, "quantity_reserved": line.quantity_reserved,
                       "quantity_backordered": line.quantity_backordered, "quantity_shipped": line.quantity_shipped,
                       "unit_price_cents": line.unit_price_cents, "amount_cents": line.amount_cents}
                      for line in order.lines.all()],
            "notes": order.notes,
            "carrier_service": order.carrier_service,
            "backorder": order.backorder,
            "currency": order.currency,
            "subtotal_cents": order.subtotal_cents,
            **{name: _moment(getattr(order, name)) for name in (
                "submitted_at", "checked_at", "shipped_at", "delivered_at", "cancelled_at", "updated_at")},
        }


_MOMENT = serializers.DateTimeField()


def _moment(value) -> str | None:
    return None if value is None else _MOMENT.to_representation(value)


class ReservationSerializer(serializers.Serializer):
    sku = serializers.CharField(source="line.sku")
    warehouse = serializers.CharField(source="warehouse_code")
    quantity = serializers.IntegerField()
    state = serializers.ChoiceField(choices=Reservation.State.choices, help_text=gettext_lazy(
        "`held` for the order, `released` (cancelled) or `shipped`."))


class CheckResultSerializer(serializers.Serializer):
    check = serializers.CharField(source="check_name")
    code = serializers.CharField(help_text=gettext_lazy("Stable: `ok`, `postcode_invalid`, `value_review`…"))
    passed = serializers.BooleanField()
    severity = serializers.ChoiceField(choices=["block", "warn"], help_text=gettext_lazy(
        "`block`: a failure holds the order; `warn`: shown only."))
    message = serializers.CharField(help_text=gettext_lazy("What was found, in the request's language."))
    action = serializers.CharField(help_text=gettext_lazy("What to do about it (empty when passed)."))
    checked_at = serializers.DateTimeField(source="created_at")


class TimelineEventSerializer(serializers.Serializer):
    from_status = serializers.CharField(help_text=gettext_lazy("Empty for the submission."))
    to_status = serializers.CharField()
    by = serializers.SerializerMethodField()
    reason = serializers.CharField(source="reason_text", help_text=gettext_lazy(
        "In the language of the request when BigStock gave the reason; as written when a person did."))
    reason_code = serializers.CharField(help_text=gettext_lazy(
        "When BigStock gave the reason: `backorder` or `checks_failed` (the check results say which). Empty "
        "otherwise."))
    at = serializers.DateTimeField(source="created_at")

    def get_by(self, event) -> str:
        return shown_actor(event.actor_label)


class ShipmentLineSerializer(serializers.Serializer):
    sku = serializers.CharField(source="line.sku")
    quantity = serializers.IntegerField()


class TrackingEventSerializer(serializers.Serializer):
    kind = serializers.CharField(help_text=gettext_lazy("`in_transit`, `out_for_delivery`, `delivered`, `exception`."))
    description = serializers.CharField()
    location = serializers.CharField()
    occurred_at = serializers.DateTimeField()


class ShipmentSerializer(serializers.Serializer):
    id = PublicIdField()
    carrier = serializers.CharField()
    service = serializers.CharField()
    tracking_number = serializers.CharField()
    tracking_url = serializers.CharField()
    weight_g = serializers.IntegerField()
    warehouse = serializers.CharField(source="warehouse_code")
    shipped_at = serializers.DateTimeField()
    delivered_at = serializers.DateTimeField(allow_null=True)
    lines = ShipmentLineSerializer(many=True)
    tracking = TrackingEventSerializer(many=True)


class OrderDetailSerializer(OrderSerializer):
    """One order with everything about it: where its stock is held, what the checks found, what happened."""

    reservations = ReservationSerializer(many=True)
    checks = serializers.SerializerMethodField(help_text=gettext_lazy("The latest run of the pre-shipment checks."))
    timeline = TimelineEventSerializer(many=True)
    shipments = ShipmentSerializer(many=True)

    @extend_schema_field(CheckResultSerializer(many=True))
    def get_checks(self, order) -> list:
        return CheckResultSerializer(latest_checks(order), many=True).data


# --- Errors as documented ---------------------------------------------------------------------------


class ShortageSerializer(serializers.Serializer):
    sku = serializers.CharField()
    requested = serializers.IntegerField()
    available = serializers.IntegerField()


class OrderErrorDetailSerializer(ErrorDetailSerializer):
    existing_order_id = serializers.CharField(required=False, help_text=gettext_lazy(
        "`duplicate_reference`: the id of the order already sent with this reference."))
    lines = ShortageSerializer(many=True, required=False, help_text=gettext_lazy(
        "`insufficient_stock`: requested and available quantity of each SKU short of stock."))
    current_status = serializers.CharField(required=False, help_text=gettext_lazy(
        "`forbidden_transition`: the order's status, which does not allow this."))


class OrderErrorSerializer(serializers.Serializer):
    error = OrderErrorDetailSerializer()


_DUPLICATE = "You already sent an order with the reference CMD-1042 (ord_8Hq2LmZpT0aXc4VnR7yB)."
EXAMPLES = {
    "request": OpenApiExample("An order of 3 lines", request_only=True, value={
        "reference": "CMD-1042",
        "ship_to": {"name": "Jeanne Martin", "company": "", "line1": "5 rue des Lilas", "line2": "",
                    "postcode": "69003", "city": "Lyon", "country": "FR", "phone": "+33612345678",
                    "email": "jeanne@example.com"},
        "lines": [{"sku": "TEA-GREEN-100", "quantity": 2}, {"sku": "CUP-STONE", "quantity": 1},
                  {"sku": "KETTLE-1L", "quantity": 1}],
        "notes": "Leave with the caretaker", "carrier_service": "standard", "backorder": False,
    }),
    "invalid": OpenApiExample("Fields refused", status_codes=["400"], response_only=True, value={"error": {
        "code": "invalid", "message": "Some fields are invalid.",
        "fields": {"ship_to.postcode": ["This field is required."],
                   "lines[1].quantity": ["Ensure this value is greater than or equal to 1."]}}}),
    "unknown_sku": OpenApiExample("Unknown SKU", status_codes=["400"], response_only=True, value={"error": {
        "code": "unknown_sku", "message": "Unknown or inactive SKU: NOPE-9.",
        "fields": {"lines[2].sku": ["Unknown SKU NOPE-9."]}, "skus": ["NOPE-9"]}}),
    "duplicate": OpenApiExample("Reference already used", status_codes=["409"], response_only=True, value={"error": {
        "code": "duplicate_reference", "message": _DUPLICATE, "fields": {"reference": ["Already used."]},
        "existing_order_id": "ord_8Hq2LmZpT0aXc4VnR7yB"}}),
    "insufficient": OpenApiExample("Not enough stock", status_codes=["409"], response_only=True, value={"error": {
        "code": "insufficient_stock", "message": "CUP-STONE: 8 requested, 5 available",
        "fields": {"lines": ["Not enough stock for CUP-STONE: 5 available."]},
        "lines": [{"sku": "CUP-STONE", "requested": 8, "available": 5}]}}),
    "forbidden": OpenApiExample("Too late", status_codes=["409"], response_only=True, value={"error": {
        "code": "forbidden_transition", "message": "An order that is shipped cannot become cancelled.",
        "fields": {}, "current_status": "shipped"}}),
    "key_reused": OpenApiExample("Key reused", status_codes=["422"], response_only=True, value={"error": {
        "code": "idempotency_key_reused", "fields": {},
        "message": "This Idempotency-Key was already used with a different request. Use a new key for a new request."}}),
}
IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key", OpenApiTypes.STR, OpenApiParameter.HEADER, required=False,
    description=gettext_lazy("Any unique string (a UUID): sending the same request again with the same key within "
                             "24 hours answers the first response and creates nothing."))


def _conflict(description: str) -> OpenApiResponse:
    return OpenApiResponse(OrderErrorSerializer, description=description)


# --- The viewset ------------------------------------------------------------------------------------


class UnknownSkuInOrder(services.InvalidOrder):
    code = "unknown_sku"


def _detail_queryset(queryset):
    return queryset.prefetch_related(
        "lines", "check_results", "timeline",
        Prefetch("reservations", queryset=Reservation.objects.select_related("line")),
        Prefetch("shipments", queryset=Shipment.objects.prefetch_related(
            "tracking", Prefetch("lines", queryset=ShipmentLine.objects.select_related("line")))),
    )


@extend_schema_view(
    list=extend_schema(
        summary="List orders", tags=TAGS, description="Your orders, newest first, 50 a page (`limit` up to 200).",
        parameters=[
            OpenApiParameter("status", enum=Status.values),
            OpenApiParameter("reference", OpenApiTypes.STR, description=gettext_lazy("Your reference, exactly.")),
            OpenApiParameter("sku", OpenApiTypes.STR, description=gettext_lazy("Orders with a line of this SKU.")),
            OpenApiParameter("created_after", OpenApiTypes.DATETIME),
            OpenApiParameter("created_before", OpenApiTypes.DATETIME),
        ],
        responses={200: OrderSerializer(many=True), **error_responses(400)}, examples=error_examples()),
    retrieve=extend_schema(
        summary="An order", tags=TAGS,
        description="With its lines, where the stock is held, the latest checks (with what to do when one "
                    "failed), the timeline and the shipments with their tracking.",
        responses={200: OrderDetailSerializer, **error_responses(404)}, examples=error_examples(404)),
)
class OrderViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, PartnerScopedViewSet):
    queryset = Order.objects.all()
    serializer_class = OrderSerializer
    required_permission = "place_orders"
    idempotent_atomic = True  # its POSTs only write the database: the key, the order and the answer commit together

    def get_queryset(self):
        queryset = super().get_queryset()
        if self.action == "list":
            return self._filtered(queryset).prefetch_related("lines")
        if self.action == "retrieve":
            return _detail_queryset(queryset)
        return queryset

    def get_serializer_class(self):
        return OrderDetailSerializer if self.action == "retrieve" else OrderSerializer

    def _filtered(self, queryset):
        query = validated(OrderFilterSerializer, self.request.query_params)
        if "status" in query:
            queryset = queryset.filter(status=query["status"])
        if "reference" in query:
            queryset = queryset.filter(reference=query["reference"])
        if "sku" in query:
            queryset = queryset.filter(Exists(OrderLine.objects.filter(order=OuterRef("pk"), sku=query["sku"])))
        if "created_after" in query:
            queryset = queryset.filter(created_at__gte=query["created_after"])
        if "created_before" in query:
            queryset = queryset.filter(created_at__lt=query["created_before"])
        return queryset

    def detail_response(self, order) -> Response:
        """The order as ``retrieve`` shows it, read again after a change."""
        return Response(OrderDetailSerializer(_detail_queryset(self.get_queryset()).get(pk=order.pk)).data)

    @extend_schema(
        summary="Submit an order", tags=TAGS, request=OrderInputSerializer, parameters=[IDEMPOTENCY_KEY],
        description=(
            "Validates the order, reserves its stock and records it as `submitted`, in one transaction; the "
            "pre-shipment checks follow within seconds (webhook `order.ready` or `order.on_hold`). Send an "
            "`Idempotency-Key` so that a retry after a timeout never creates a second order."),
        responses={
            201: OrderSerializer,
            **error_responses(400),
            409: _conflict(gettext_lazy(
                "`duplicate_reference` (with `existing_order_id`), `insufficient_stock` (with the available "
                "quantity per SKU in `lines`; send `backorder: true` to accept the order anyway), or "
                "`idempotency_key_in_use` (the first request with this key is still running).")),
            422: OpenApiResponse(ErrorSerializer, description=gettext_lazy(
                "`idempotency_key_reused`: the key was used for a different request.")),
        },
        examples=[EXAMPLES[name] for name in ("request", "invalid", "unknown_sku", "duplicate", "insufficient",
                                              "key_reused")] + error_examples(),
    )
    def create(self, request):
        data = validated(OrderInputSerializer, request.data)
        lines = [services.LineIn(line["sku"], line["quantity"]) for line in data["lines"]]
        try:
            order = services.submit_order(
                partner=request.partner, actor=Actor.from_request(request), source="api",
                reference=data["reference"], ship_to=data["ship_to"], lines=lines, notes=data["notes"],
                carrier_service=data["carrier_service"], backorder=data["backorder"])
        except UnknownSku as error:
            skus = set(error.details.get("skus", ()))
            raise UnknownSkuInOrder(error.message, skus=sorted(skus), fields={
                f"lines[{index}].sku": [_("Unknown SKU %(sku)s.") % {"sku": line.sku}]
                for index, line in enumerate(lines) if line.sku in skus}) from None
        location = request.build_absolute_uri(f"{request.path.rstrip('/')}/{order.public_id}")  # the collection's item
        return Response(OrderSerializer(order).data, status=status.HTTP_201_CREATED, headers={"Location": location})

    @extend_schema(
        summary="Cancel an order", tags=TAGS, request=CancelInputSerializer,
        description="Before it ships: the reserved stock goes back on sale at once.",
        responses={200: OrderSerializer, **error_responses(400, 404),
                   409: _conflict(gettext_lazy("`forbidden_transition`: shipped, delivered or already cancelled."))},
        examples=[EXAMPLES["forbidden"], *error_examples(404)],
    )
    @action(detail=True, methods=["post"])
    def cancel(self, request, id=None):
        data = validated(CancelInputSerializer, request.data)
        order = services.cancel_order(order=self.get_object(), actor=Actor.from_request(request),
                                      reason=data["reason"])
        return Response(OrderSerializer(order).data)

    @extend_schema(
        summary="Correct the address of an order on hold", tags=TAGS, request=AddressChangeSerializer,
        description="Only the fields sent change. The checks then run again: the answer shows whether the "
                    "order is now `ready` or still `on_hold` (and why).",
        responses={200: OrderDetailSerializer, **error_responses(400, 404),
                   409: _conflict(gettext_lazy("`forbidden_transition`: the order is not on hold."))},
        examples=[EXAMPLES["invalid"], *error_examples(404)],
    )
    @action(detail=True, methods=["patch"])
    def address(self, request, id=None):
        order = self.get_object()
        change = validated(AddressChangeSerializer, request.data)
        current = {field: getattr(order, f"ship_to_{field}") for field in services.SHIP_TO_FIELDS}
        try:
            order = services.update_address(order=order, ship_to={**current, **change},
                                            actor=Actor.from_request(request))
        except services.InvalidOrder as error:  # named as in this endpoint's body: ``city``, not ``ship_to.city``
            raise services.InvalidOrder(error.message, fields={
                name.removeprefix("ship_to."): messages for name, messages in error.fields.items()}) from None
        return self.detail_response(order)

    @extend_schema(
        summary="Run the checks again", tags=TAGS, request=None,
        description="After fixing what a check asked for outside BigStock (a payment, your account): the answer "
                    "shows the new results.",
        responses={200: OrderDetailSerializer, **error_responses(404),
                   409: _conflict(gettext_lazy("`forbidden_transition`: only an order on hold or ready."))},
        examples=error_examples(404),
    )
    @action(detail=True, methods=["post"])
    def recheck(self, request, id=None):
        order = services.rerun_checks(order=self.get_object(), actor=Actor.from_request(request))
        return self.detail_response(order)

    @extend_schema(
        summary="An order's shipments", tags=TAGS,
        description="Each parcel with its carrier, tracking number and link, and the carrier's news.",
        responses={200: ShipmentSerializer(many=True), **error_responses(404)}, examples=error_examples(404),
    )
    @action(detail=True, methods=["get"], pagination_class=None)
    def shipments(self, request, id=None):
        order = self.get_object()
        shipments = Shipment.objects.for_partner(request.partner).filter(order=order).prefetch_related(
            "tracking", Prefetch("lines", queryset=ShipmentLine.objects.select_related("line")))
        return Response(ShipmentSerializer(shipments, many=True).data)
