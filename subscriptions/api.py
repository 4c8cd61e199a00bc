"""The billing API, read-only: the plans offered, the partner's subscription, its invoices and
credit notes (with their PDFs). Changing plan happens in the portal, where the amounts are shown
before confirming.

Money is integer cents with a ``currency``; dates are ISO 8601 (``YYYY-MM-DD``, Paris business
dates); times ISO 8601 UTC; periods end exclusive (``period_end`` is the first day after).
"""

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.reverse import reverse

from bigstock.api import (
    BaseAPIView,
    ErrorSerializer,
    PartnerScopedViewSet,
    PublicIdField,
    error_examples,
    error_responses,
)
from bigstock.renderers import FileNegotiation

from . import services
from .models import CreditNote, Invoice, InvoiceLine, Payment, Plan, Subscription
from .views import pdf_response

TAGS = ["billing"]


PDF_RESPONSE = {(200, "application/pdf"): OpenApiResponse(
    OpenApiTypes.BINARY,
    description=gettext_lazy("The PDF/A-3 with its Factur-X XML, as an attachment. French, the legal "
                             "original; `?lang=en` for an English copy with the same numbers."),
)}


# --- Plans -----------------------------------------------------------------------------------


class PlanSerializer(serializers.ModelSerializer):
    name = serializers.CharField(read_only=True, help_text=gettext_lazy("In the request's language."))
    description = serializers.CharField(read_only=True)
    currency = serializers.SerializerMethodField()

    class Meta:
        model = Plan
        fields = ["code", "version", "name", "description", "price_cents", "currency", "included_orders",
                  "team_seats", "api_rate_per_min", "wholesale_discount", "support_first_response_hours",
                  "support_resolution_hours"]
        read_only_fields = fields
        extra_kwargs = {
            "price_cents": {"help_text": gettext_lazy("Per month, excl. VAT.")},
            "wholesale_discount": {"help_text": gettext_lazy("A fraction: \"0.030\" is 3 %.")},
        }

    def get_currency(self, plan) -> str:
        return "EUR"


@extend_schema_view(
    list=extend_schema(summary="The plans offered", tags=TAGS,
                       description="The current version of every plan a partner can subscribe to, cheapest first.",
                       responses={200: PlanSerializer(many=True), **error_responses()}, examples=error_examples()),
)
class PlanViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """Plans belong to no partner: any authenticated partner may read them."""

    queryset = Plan.objects.none()  # for the schema; the rows come from ``services.offered_plans``
    serializer_class = PlanSerializer
    pagination_class = None  # a handful

    def get_queryset(self):
        return services.offered_plans()


# --- The subscription ------------------------------------------------------------------------


class SubscriptionSerializer(serializers.ModelSerializer):
    id = PublicIdField()
    plan = PlanSerializer(read_only=True)
    scheduled_plan = PlanSerializer(read_only=True, allow_null=True, help_text=gettext_lazy(
        "A downgrade that takes effect at `current_period_end`; null when none."))

    class Meta:
        model = Subscription
        fields = ["id", "status", "plan", "scheduled_plan", "rail", "started_on", "current_period_start",
                  "current_period_end", "cancel_at_period_end", "past_due_since", "grace_until", "canceled_at",
                  "created_at", "updated_at"]
        read_only_fields = fields


class SubscriptionView(BaseAPIView):
    """The calling partner's current subscription (at most one); 404 `no_subscription` when it has none."""

    @extend_schema(
        operation_id="subscription_retrieve", summary="The current subscription", tags=TAGS,
        responses={200: SubscriptionSerializer,
                   **error_responses(),
                   404: OpenApiResponse(ErrorSerializer, description="`no_subscription`: the partner has none.")},
        examples=[*error_examples(), OpenApiExample(
            "No subscription", status_codes=["404"], response_only=True,
            value={"error": {"code": "no_subscription", "fields": {},
                             "message": "This partner has no subscription: choose a plan in the portal."}},
        )],
    )
    def get(self, request):
        subscription = services.current_subscription(request.partner)
        if subscription is None:
            raise services.NoSubscription(_("This partner has no subscription: choose a plan in the portal."))
        return Response(SubscriptionSerializer(subscription).data)


# --- Invoices and credit notes ---------------------------------------------------------------


class InvoiceLineSerializer(serializers.ModelSerializer):
    class Meta:
        model = InvoiceLine
        fields = ["description", "quantity", "unit_price_cents", "amount_cents", "period_start", "period_end"]
        read_only_fields = fields


class PaymentSerializer(serializers.ModelSerializer):
    id = PublicIdField()

    class Meta:
        model = Payment
        fields = ["id", "amount_cents", "received_on", "method", "reference"]
        read_only_fields = fields


class InvoiceCreditNoteSerializer(serializers.ModelSerializer):
    id = PublicIdField()

    class Meta:
        model = CreditNote
        fields = ["id", "number", "issue_date", "total_cents"]
        read_only_fields = fields


class InvoiceSerializer(serializers.ModelSerializer):
    id = PublicIdField()
    subscription = serializers.CharField(source="subscription.public_id", read_only=True)
    balance_cents = serializers.IntegerField(read_only=True, help_text=gettext_lazy(
        "Still owed: total minus paid minus credited (negative when overpaid)."))
    is_overdue = serializers.BooleanField(read_only=True)
    lines = InvoiceLineSerializer(many=True, read_only=True)
    payments = PaymentSerializer(many=True, read_only=True)
    credit_notes = InvoiceCreditNoteSerializer(many=True, read_only=True)
    pdf_url = serializers.SerializerMethodField()

    class Meta:
        model = Invoice
        fields = ["id", "number", "kind", "status", "subscription", "period_start", "period_end", "issue_date",
                  "due_date", "currency", "vat_rate", "vat_regime", "subtotal_cents", "vat_cents", "total_cents",
                  "amount_paid_cents", "amount_credited_cents", "balance_cents", "is_overdue", "finalized_at",
                  "paid_at", "lines", "payments", "credit_notes", "pdf_url"]
        read_only_fields = fields
        extra_kwargs = {"period_end": {"help_text": gettext_lazy("Exclusive: the first day after the period.")},
                        "vat_rate": {"help_text": gettext_lazy("A fraction: \"0.2000\" is 20 %.")}}

    def get_pdf_url(self, invoice) -> str:
        return reverse("api:invoice-pdf", kwargs={"id": invoice.public_id}, request=self.context.get("request"))


class CreditNoteSerializer(serializers.ModelSerializer):
    id = PublicIdField()
    invoice = serializers.CharField(source="invoice.public_id", read_only=True)
    invoice_number = serializers.CharField(source="invoice.number", read_only=True)
    currency = serializers.CharField(source="invoice.currency", read_only=True)
    pdf_url = serializers.SerializerMethodField()

    class Meta:
        model = CreditNote
        fields = ["id", "number", "invoice", "invoice_number", "reason", "description", "issue_date", "currency",
                  "subtotal_cents", "vat_cents", "total_cents", "refunded_cents", "created_at", "pdf_url"]
        read_only_fields = fields

    def get_pdf_url(self, note) -> str:
        return reverse("api:credit-note-pdf", kwargs={"id": note.public_id}, request=self.context.get("request"))


class DocumentViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, PartnerScopedViewSet):
    """Invoices and credit notes, read-only: the list, one, and its PDF."""

    @action(detail=True, methods=["get"], content_negotiation_class=FileNegotiation)
    def pdf(self, request, id=None):
        return pdf_response(self.get_object(), language="en" if request.query_params.get("lang") == "en" else "fr")


LANG = OpenApiParameter("lang", OpenApiTypes.STR, enum=["fr", "en"], required=False,
                        description=gettext_lazy("`fr` (default): the legal original; `en`: an English copy."))


@extend_schema_view(
    list=extend_schema(summary="List invoices", tags=TAGS, description="Finalized invoices, newest first.",
                       responses={200: InvoiceSerializer(many=True), **error_responses()},
                       examples=error_examples()),
    retrieve=extend_schema(summary="An invoice", tags=TAGS,
                           responses={200: InvoiceSerializer, **error_responses(404)},
                           examples=error_examples(404)),
    pdf=extend_schema(summary="An invoice's PDF", tags=TAGS, parameters=[LANG],
                      responses={**PDF_RESPONSE, **error_responses(404)}, examples=error_examples(404)),
)
class InvoiceViewSet(DocumentViewSet):
    queryset = (Invoice.objects.exclude(status=Invoice.Status.DRAFT).select_related("subscription")
                .prefetch_related("lines", "payments", "credit_notes"))
    serializer_class = InvoiceSerializer


@extend_schema_view(
    list=extend_schema(summary="List credit notes", tags=TAGS, description="Credit notes (avoirs), newest first.",
                       responses={200: CreditNoteSerializer(many=True), **error_responses()},
                       examples=error_examples()),
    retrieve=extend_schema(summary="A credit note", tags=TAGS,
                           responses={200: CreditNoteSerializer, **error_responses(404)},
                           examples=error_examples(404)),
    pdf=extend_schema(summary="A credit note's PDF", tags=TAGS, parameters=[LANG],
                      responses={**PDF_RESPONSE, **error_responses(404)}, examples=error_examples(404)),
)
class CreditNoteViewSet(DocumentViewSet):
    queryset = CreditNote.objects.select_related("invoice")
    serializer_class = CreditNoteSerializer
