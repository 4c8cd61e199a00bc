"""The partners API: the calling partner, its team, its webhook endpoints and its event feed.

Thin: reads go through ``bigstock.api.PartnerScopedViewSet`` (scoped to ``request.partner``,
set by the API key or the portal session, never by the request's body or query); writes call
``partners.services``, which check the role rule and write the audit log.
"""

import datetime as dt

from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
    inline_serializer,
)
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response

from bigstock import events
from bigstock.api import (
    BaseAPIView,
    PartnerScopedViewSet,
    PublicIdField,
    error_examples,
    error_responses,
)
from bigstock.models import PartnerEvent, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from bigstock.pagination import InvalidCursor

from . import services
from .audit import Actor
from .models import LegalForm, Membership, Partner


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = "partners.authentication.ApiKeyAuthentication"
    name = "apiKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "bsk_<prefix>_<secret>",
            "description": "An API key created in the portal (Settings → API keys), sent as "
                           "`Authorization: Bearer bsk_...`. `read` keys may only read.",
        }


# --- Base views ------------------------------------------------------------------------------


class PartnerViewSet(PartnerScopedViewSet):
    """Base of this module's viewsets."""

    def actor(self) -> Actor:
        return Actor.from_request(self.request)

    def validated(self, serializer_class, *, partial=False, data=None) -> dict:
        serializer = serializer_class(data=self.request.data if data is None else data, partial=partial)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data


# --- The partner ---------------------------------------------------------------------------


class PartnerSerializer(serializers.ModelSerializer):
    id = PublicIdField()
    siren = serializers.CharField(read_only=True, help_text=gettext_lazy("The first 9 digits of the SIRET."))
    country = serializers.CharField(source="country.code", read_only=True,
                                    help_text=gettext_lazy("ISO 3166-1 alpha-2."))

    class Meta:
        model = Partner
        fields = [
            "id", "legal_name", "trade_name", "siret", "siren", "vat_number", "legal_form",
            "address_line1", "address_line2", "postcode", "city", "country", "billing_email", "phone",
            "status", "require_2fa", "approved_at", "created_at", "updated_at",
        ]
        read_only_fields = fields


class PartnerProfileSerializer(serializers.Serializer):
    """What the partner may change. Identifiers are checked (Luhn, VAT, phone) by the service."""

    legal_name = serializers.CharField(required=False)
    trade_name = serializers.CharField(required=False, allow_blank=True)
    siret = serializers.CharField(required=False, allow_blank=True)
    vat_number = serializers.CharField(required=False, allow_blank=True)
    legal_form = serializers.ChoiceField(choices=LegalForm.choices, required=False)
    address_line1 = serializers.CharField(required=False)
    address_line2 = serializers.CharField(required=False, allow_blank=True)
    postcode = serializers.CharField(required=False)
    city = serializers.CharField(required=False)
    country = serializers.CharField(required=False, help_text=gettext_lazy("ISO 3166-1 alpha-2."))
    billing_email = serializers.EmailField(required=False)
    phone = serializers.CharField(required=False, allow_blank=True)


class PartnerView(BaseAPIView):
    """``/partner``: the calling partner (there is exactly one; it comes from the credentials)."""

    required_permission = "manage_profile"

    @extend_schema(
        operation_id="partner_retrieve", summary="The calling partner", tags=["partner"],
        responses={200: PartnerSerializer, **error_responses()}, examples=error_examples(),
    )
    def get(self, request):
        return Response(PartnerSerializer(request.partner).data)

    @extend_schema(
        operation_id="partner_update", summary="Change the business profile", tags=["partner"],
        description="Owners and admins (or a key with the `write` scope). Only the fields sent change; "
                    "SIRET, VAT number and phone are checked and normalised.",
        request=PartnerProfileSerializer,
        responses={200: PartnerSerializer, **error_responses(400)},
        examples=error_examples(),
    )
    def patch(self, request):
        serializer = PartnerProfileSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        partner = services.update_partner_profile(
            partner=request.partner, membership=request.membership, actor=Actor.from_request(request),
            **serializer.validated_data,
        )
        return Response(PartnerSerializer(partner).data)


# --- The team --------------------------------------------------------------------------------


class MemberSerializer(serializers.ModelSerializer):
    email = serializers.EmailField(source="user.email", read_only=True)
    first_name = serializers.CharField(source="user.first_name", read_only=True)
    last_name = serializers.CharField(source="user.last_name", read_only=True)
    joined_at = serializers.DateTimeField(source="created_at", read_only=True)

    class Meta:
        model = Membership
        fields = ["email", "first_name", "last_name", "role", "joined_at"]
        read_only_fields = fields


@extend_schema_view(
    list=extend_schema(summary="The team", tags=["team"], responses={200: MemberSerializer(many=True),
                                                                      **error_responses()}),
)
class MemberViewSet(mixins.ListModelMixin, PartnerViewSet):
    queryset = Membership.objects.select_related("user")
    serializer_class = MemberSerializer


# --- Events (the envelope partners receive, by webhook and by the feed) ------------------


class EventSerializer(serializers.Serializer):
    """``bigstock.events.envelope``: the same shape as a webhook's body."""

    id = serializers.CharField(help_text=gettext_lazy("`evt_...`; pass it as `after` to read on from there."))
    type = serializers.CharField(help_text=gettext_lazy("`noun.past_verb`, such as `partner.approved`."))
    created_at = serializers.DateTimeField()
    data = serializers.DictField()

    def to_representation(self, instance):
        return events.envelope(instance)


# --- Webhooks --------------------------------------------------------------------------------


_PRIVATE_URL = "The host resolves to a private address 10.0.0.5, which webhooks cannot reach."


class WebhookEndpointSerializer(serializers.ModelSerializer):
    id = PublicIdField()
    disabled_reason = serializers.CharField(source="disabled_reason_text", read_only=True, help_text=gettext_lazy(
        "Why BigStock disabled the endpoint, in the request's language; empty while it is enabled."))

    class Meta:
        model = WebhookEndpoint
        fields = ["id", "url", "description", "event_types", "enabled", "failing_since", "disabled_reason",
                  "created_at", "updated_at"]
        read_only_fields = fields


class WebhookEndpointCreatedSerializer(WebhookEndpointSerializer):
    secret = serializers.CharField(
        read_only=True,
        help_text=gettext_lazy("The signing secret (`whsec_...`). Shown in this response only: store it now."),
    )

    class Meta(WebhookEndpointSerializer.Meta):
        fields = [*WebhookEndpointSerializer.Meta.fields, "secret"]
        read_only_fields = fields


class WebhookEndpointInputSerializer(serializers.Serializer):
    url = serializers.CharField(max_length=500, help_text=gettext_lazy("A public https:// URL."))
    description = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    event_types = serializers.ListField(child=serializers.CharField(), required=False, default=list,
                                        help_text=gettext_lazy("Empty: every event type."))


class WebhookEndpointChangeSerializer(serializers.Serializer):
    url = serializers.CharField(max_length=500, required=False)
    description = serializers.CharField(max_length=200, required=False, allow_blank=True)
    event_types = serializers.ListField(child=serializers.CharField(), required=False)
    enabled = serializers.BooleanField(required=False,
                                       help_text=gettext_lazy("Re-enabling clears the failure state."))


class WebhookAttemptSerializer(serializers.ModelSerializer):
    class Meta:
        model = WebhookAttempt
        fields = ["attempted_at", "status_code", "duration_ms", "error", "response_body"]
        read_only_fields = fields


class WebhookDeliverySerializer(serializers.ModelSerializer):
    id = PublicIdField()
    endpoint = serializers.CharField(source="endpoint.public_id", read_only=True)
    event = serializers.SerializerMethodField()
    attempts = WebhookAttemptSerializer(many=True, read_only=True)

    class Meta:
        model = WebhookDelivery
        fields = ["id", "endpoint", "event", "status", "attempt_count", "last_status_code", "next_attempt_at",
                  "created_at", "updated_at", "attempts"]
        read_only_fields = fields

    @extend_schema_field(EventSerializer)
    def get_event(self, delivery) -> dict:
        return events.envelope(delivery.event)


class DeliveryFilterSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=WebhookDelivery.Status.choices, required=False)


def _deliveries(queryset):
    return queryset.select_related("endpoint", "event").prefetch_related("attempts")


@extend_schema_view(
    list=extend_schema(summary="List webhook endpoints", tags=["webhooks"],
                       responses={200: WebhookEndpointSerializer(many=True), **error_responses()}),
    retrieve=extend_schema(summary="A webhook endpoint", tags=["webhooks"],
                           responses={200: WebhookEndpointSerializer, **error_responses(404)},
                           examples=error_examples(404)),
)
class WebhookEndpointViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, PartnerViewSet):
    """Where BigStock sends the partner's events, signed per Standard Webhooks."""

    queryset = WebhookEndpoint.objects.all()
    serializer_class = WebhookEndpointSerializer
    required_permission = "manage_webhooks"

    @extend_schema(
        summary="Add a webhook endpoint", tags=["webhooks"],
        description="The response carries the signing `secret`, once: it is never shown again.",
        request=WebhookEndpointInputSerializer,
        responses={201: WebhookEndpointCreatedSerializer, **error_responses(400)},
        examples=[
            OpenApiExample("New endpoint", request_only=True,
                           value={"url": "https://shop.example/hooks/bigstock", "event_types": ["partner.approved"]}),
            OpenApiExample(
                "URL refused", status_codes=["400"], response_only=True,
                value={"error": {"code": "webhook_url_private", "fields": {"url": [_PRIVATE_URL]},
                                 "message": _PRIVATE_URL}},
            ),
            *error_examples(),
        ],
    )
    def create(self, request):
        endpoint, secret = services.create_webhook_endpoint(
            partner=request.partner, membership=request.membership, actor=self.actor(),
            **self.validated(WebhookEndpointInputSerializer),
        )
        return Response({**WebhookEndpointSerializer(endpoint).data, "secret": secret}, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Change a webhook endpoint", tags=["webhooks"], request=WebhookEndpointChangeSerializer,
        responses={200: WebhookEndpointSerializer, **error_responses(400, 404)}, examples=error_examples(404),
    )
    def partial_update(self, request, id=None):
        endpoint = services.update_webhook_endpoint(
            endpoint=self.get_object(), membership=request.membership, actor=self.actor(),
            **self.validated(WebhookEndpointChangeSerializer, partial=True),
        )
        return Response(WebhookEndpointSerializer(endpoint).data)

    @extend_schema(summary="Delete a webhook endpoint", tags=["webhooks"],
                   responses={204: None, **error_responses(404)}, examples=error_examples(404))
    def destroy(self, request, id=None):
        services.delete_webhook_endpoint(endpoint=self.get_object(), membership=request.membership,
                                         actor=self.actor())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        summary="Send a test event", tags=["webhooks"], request=None,
        description="Queues a `webhook.test` event to this endpoint; follow it in its deliveries.",
        responses={202: WebhookDeliverySerializer, **error_responses(404)}, examples=error_examples(404),
    )
    @action(detail=True, methods=["post"], url_path="test")
    def test(self, request, id=None):
        delivery = services.send_test_webhook(endpoint=self.get_object(), membership=request.membership,
                                              actor=self.actor())
        delivery = _deliveries(WebhookDelivery.objects.for_partner(request.partner)).get(pk=delivery.pk)
        return Response(WebhookDeliverySerializer(delivery).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(
        summary="Recent deliveries to this endpoint", tags=["webhooks"],
        parameters=[OpenApiParameter("status", enum=WebhookDelivery.Status.values, required=False)],
        responses={200: WebhookDeliverySerializer(many=True), **error_responses(400, 404)},
        examples=error_examples(404),
    )
    @action(detail=True, methods=["get"])
    def deliveries(self, request, id=None):
        endpoint = self.get_object()
        deliveries = _deliveries(WebhookDelivery.objects.for_partner(request.partner).filter(endpoint=endpoint))
        wanted = self.validated(DeliveryFilterSerializer, data=request.query_params).get("status")
        if wanted:
            deliveries = deliveries.filter(status=wanted)
        page = self.paginate_queryset(deliveries)
        return self.get_paginated_response(WebhookDeliverySerializer(page, many=True).data)


@extend_schema_view(
    retrieve=extend_schema(summary="A webhook delivery, with its attempts", tags=["webhooks"],
                           responses={200: WebhookDeliverySerializer, **error_responses(404)},
                           examples=error_examples(404)),
)
class WebhookDeliveryViewSet(mixins.RetrieveModelMixin, PartnerViewSet):
    queryset = _deliveries(WebhookDelivery.objects)
    serializer_class = WebhookDeliverySerializer
    required_permission = "manage_webhooks"

    @extend_schema(summary="Deliver again", tags=["webhooks"], request=None,
                   description="Sends the same event again (same id, new signature), now.",
                   responses={202: WebhookDeliverySerializer, **error_responses(404)}, examples=error_examples(404))
    @action(detail=True, methods=["post"])
    def redeliver(self, request, id=None):
        delivery = services.redeliver_webhook(delivery=self.get_object(), membership=request.membership,
                                              actor=self.actor())
        return Response(WebhookDeliverySerializer(self.get_queryset().get(pk=delivery.pk)).data,
                        status=status.HTTP_202_ACCEPTED)


# --- Events ----------------------------------------------------------------------------------

# Events appear in the feed this long after they happen. On PostgreSQL a transaction that
# started earlier (lower id) can commit after a later one: polling past an id without this
# delay could skip an event for good. Webhooks are sent at once; the feed is for reconciling.
EVENT_SETTLE_DELAY = dt.timedelta(seconds=5)
EVENTS_DEFAULT_LIMIT = 100
EVENTS_MAX_LIMIT = 200


class EventQuerySerializer(serializers.Serializer):
    after = serializers.CharField(required=False, allow_blank=True)
    limit = serializers.IntegerField(required=False, min_value=1, max_value=EVENTS_MAX_LIMIT,
                                     default=EVENTS_DEFAULT_LIMIT)


EventPageSerializer = inline_serializer(
    "EventPage",
    {
        "results": EventSerializer(many=True),
        "has_more": serializers.BooleanField(help_text=gettext_lazy("More events wait: call `next` now.")),
        "next": serializers.URLField(help_text=gettext_lazy(
            "Where to read on. Always set: when `has_more` is false, poll it again later.")),
    },
)


@extend_schema_view(
    retrieve=extend_schema(summary="An event", tags=["events"],
                           responses={200: EventSerializer, **error_responses(404)}, examples=error_examples(404)),
)
class EventViewSet(mixins.RetrieveModelMixin, PartnerViewSet):
    queryset = PartnerEvent.objects.all()
    serializer_class = EventSerializer
    pagination_class = None  # the feed pages by event id, oldest first (list below)

    @extend_schema(
        summary="Poll events, oldest first", tags=["events"],
        description=(
            "Every event of the partner, oldest first, after the event `after` (from the start when "
            "absent). Store the last id you processed and poll with it: webhooks may be lost, this list "
            f"is not. Events are listed {int(EVENT_SETTLE_DELAY.total_seconds())} seconds after they happen."
        ),
        parameters=[
            OpenApiParameter("after", OpenApiTypes.STR, description="An event id (`evt_...`) from this feed."),
            OpenApiParameter("limit", OpenApiTypes.INT,
                             description=f"1 to {EVENTS_MAX_LIMIT}, default {EVENTS_DEFAULT_LIMIT}."),
        ],
        responses={200: EventPageSerializer, **error_responses(400)},
        examples=[
            OpenApiExample(
                "Unknown cursor", status_codes=["400"], response_only=True,
                value={"error": {"code": "invalid_cursor", "fields": {"after": ["Unknown event id."]},
                                 "message": "No event evt_x for this partner: pass the id of an event "
                                            "this feed returned."}},
            ),
            *error_examples(),
        ],
    )
    def list(self, request):
        query = self.validated(EventQuerySerializer, data=request.query_params)
        after, limit = query.get("after") or "", query["limit"]
        feed = self.get_queryset()
        if after:
            after_pk = feed.filter(public_id=after).values_list("pk", flat=True).first()
            if after_pk is None:
                raise InvalidCursor(
                    _("No event %(id)s for this partner: pass the id of an event this feed returned.")
                    % {"id": after},
                    fields={"after": [_("Unknown event id.")]},
                )
            feed = feed.filter(pk__gt=after_pk)
        rows = list(feed.filter(created_at__lte=timezone.now() - EVENT_SETTLE_DELAY).order_by("pk")[: limit + 1])
        page, has_more = rows[:limit], len(rows) > limit
        cursor = page[-1].public_id if page else after
        next_query = f"?after={cursor}&limit={limit}" if cursor else f"?limit={limit}"
        return Response({
            "results": [events.envelope(event) for event in page],
            "has_more": has_more,
            "next": request.build_absolute_uri(request.path + next_query),
        })
