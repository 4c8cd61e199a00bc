"""The support API: open tickets, list and read them, reply, reopen, rate, and read attachments.

Thin: reads go through ``PartnerScopedViewSet`` (the calling partner's tickets only) and
``visible_to_partner()`` (never an internal note); every change is one call to
``support.services``. Writes stay open to partners whose account is read-only elsewhere
(inactive, suspended): they must always be able to reach support.
"""

from django.db.models import Prefetch
from django.utils.translation import gettext_lazy
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.parsers import FormParser
from rest_framework.response import Response
from rest_framework.reverse import reverse

from bigstock.api import PartnerScopedViewSet, PublicIdField, error_examples, error_responses
from bigstock.pagination import CursorPagination
from bigstock.parsers import JSONParser, MultiPartParser
from bigstock.renderers import FileNegotiation
from partners.audit import Actor
from partners.permissions import PartnerAccess

from . import attachments, services
from .models import Attachment, Category, Message, Priority, Status, Ticket
from .views import attachment_response

TAGS = ["support"]


# --- Serializers ---------------------------------------------------------------------------------


class AttachmentSerializer(serializers.ModelSerializer):
    id = PublicIdField()
    content_url = serializers.SerializerMethodField(help_text=gettext_lazy("Where to download the file."))

    class Meta:
        model = Attachment
        fields = ["id", "filename", "content_type", "size_bytes", "created_at", "content_url"]
        read_only_fields = fields

    def get_content_url(self, attachment) -> str:
        return reverse("api:ticket-attachment-content", kwargs={"id": attachment.public_id},
                       request=self.context.get("request"))


class MessageSerializer(serializers.ModelSerializer):
    id = PublicIdField()
    author = serializers.SerializerMethodField(help_text=gettext_lazy("`partner` (you) or `staff` (BigStock)."))
    author_name = serializers.CharField(source="author_label", read_only=True)
    attachments = AttachmentSerializer(many=True, read_only=True)

    class Meta:
        model = Message
        fields = ["id", "author", "author_name", "body", "source", "created_at", "attachments"]
        read_only_fields = fields

    def get_author(self, message) -> str:
        return "staff" if message.from_staff else "partner"


class TicketSerializer(serializers.ModelSerializer):
    id = PublicIdField()
    order = serializers.CharField(source="order.public_id", read_only=True, default=None,
                                  help_text=gettext_lazy("The order it is about (`ord_...`), if any."))
    merged_into = serializers.CharField(source="merged_into.public_id", read_only=True, default=None,
                                        help_text=gettext_lazy("Closed as a duplicate of this ticket, if set."))
    opened_by = serializers.CharField(source="opened_by_label", read_only=True)

    class Meta:
        model = Ticket
        fields = ["id", "reference", "subject", "category", "priority", "status", "order", "opened_by",
                  "created_at", "last_message_at", "first_response_due_at", "resolution_due_at",
                  "first_response_at", "resolved_at", "closed_at", "merged_into", "rating", "rating_comment"]
        read_only_fields = fields
        extra_kwargs = {
            "first_response_due_at": {"help_text": gettext_lazy(
                "When BigStock answers at the latest (your plan's target, in business hours, Paris calendar).")},
            "resolution_due_at": {"help_text": gettext_lazy(
                "The resolution target; the clock stops while the ticket waits on you.")},
        }


class TicketDetailSerializer(TicketSerializer):
    messages = MessageSerializer(source="visible_messages", many=True, read_only=True)

    class Meta(TicketSerializer.Meta):
        fields = [*TicketSerializer.Meta.fields, "messages"]
        read_only_fields = fields


def _files_field():
    return serializers.ListField(
        child=serializers.FileField(), required=False, default=list,
        help_text=gettext_lazy("Files (multipart/form-data, repeat `files`). Accepted: %(types)s.")
        % {"types": attachments.allowed_types_text()},
    )


class TicketCreateSerializer(serializers.Serializer):
    subject = serializers.CharField(max_length=200)
    category = serializers.ChoiceField(choices=Category.choices, default=Category.OTHER)
    priority = serializers.ChoiceField(choices=Priority.choices, default=Priority.NORMAL)
    order = serializers.CharField(required=False, allow_blank=True, default="",
                                  help_text=gettext_lazy("Your order's id (`ord_...`) or reference."))
    body = serializers.CharField(help_text=gettext_lazy("The first message."))
    files = _files_field()


class ReplySerializer(serializers.Serializer):
    body = serializers.CharField()
    files = _files_field()


class ReopenSerializer(serializers.Serializer):
    body = serializers.CharField(required=False, allow_blank=True, default="",
                                 help_text=gettext_lazy("Optional: a message sent with the reopening."))


class RatingSerializer(serializers.Serializer):
    rating = serializers.IntegerField(min_value=1, max_value=5)
    comment = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)


class TicketFilterSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=Status.choices, required=False)
    category = serializers.ChoiceField(choices=Category.choices, required=False)


# --- Views -----------------------------------------------------------------------------------------


class ThreadPagination(CursorPagination):
    """A thread reads oldest first."""

    ordering = "created_at"


def _visible_messages():
    return Prefetch("messages", queryset=Message.objects.visible_to_partner().prefetch_related("attachments"),
                    to_attr="visible_messages")


_CLOSED_EXAMPLE = OpenApiExample(
    "Ticket closed", status_codes=["409"], response_only=True,
    value={"error": {"code": "ticket_closed", "fields": {}, "can_reopen": True,
                     "message": "Ticket T-2026-00042 is closed, so your message was not sent. Reopen the ticket "
                                "or open a new one."}},
)
_FILE_REFUSED_EXAMPLE = OpenApiExample(
    "File refused", status_codes=["400"], response_only=True,
    value={"error": {"code": "attachment_type_not_allowed",
                     "message": "page.html: this type of file is not accepted. Accepted: .pdf, .png, ...",
                     "fields": {"files": ["page.html: this type of file is not accepted. Accepted: .pdf, .png, ..."]},
                     "allowed": [".pdf", ".png", "..."]}},
)
_MULTIPART = ["application/json", "multipart/form-data"]


@extend_schema_view(
    list=extend_schema(summary="List tickets", tags=TAGS, description="Your tickets, newest first.",
                       parameters=[OpenApiParameter("status", enum=Status.values, required=False),
                                   OpenApiParameter("category", enum=Category.values, required=False)],
                       responses={200: TicketSerializer(many=True), **error_responses(400)},
                       examples=error_examples()),
    retrieve=extend_schema(summary="A ticket, with its messages", tags=TAGS,
                           responses={200: TicketDetailSerializer, **error_responses(404)},
                           examples=error_examples(404)),
)
class TicketViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, PartnerScopedViewSet):
    queryset = Ticket.objects.select_related("order", "merged_into")
    serializer_class = TicketSerializer
    required_permission = "open_tickets"
    permission_classes = [PartnerAccess]  # not StandingAllowsWrites: support stays reachable
    parser_classes = [JSONParser, MultiPartParser, FormParser]

    def get_queryset(self):
        tickets = super().get_queryset()
        if self.action == "list":
            query = TicketFilterSerializer(data=self.request.query_params)
            query.is_valid(raise_exception=True)
            tickets = tickets.filter(**query.validated_data)
        elif self.action == "retrieve":
            tickets = tickets.prefetch_related(_visible_messages())
        return tickets

    def get_serializer_class(self):
        return TicketDetailSerializer if self.action == "retrieve" else TicketSerializer

    def _detail(self, ticket: Ticket, status_code=status.HTTP_200_OK) -> Response:
        ticket = Ticket.objects.select_related("order", "merged_into").prefetch_related(_visible_messages()).get(
            pk=ticket.pk)
        return Response(TicketDetailSerializer(ticket, context=self.get_serializer_context()).data, status=status_code)

    def _validated(self, serializer_class) -> dict:
        serializer = serializer_class(data=self.request.data)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data

    @extend_schema(
        summary="Open a ticket", tags=TAGS,
        description="JSON, or multipart/form-data to attach files. `order` must be one of your orders. "
                    "The response has the SLA due times promised by your plan.",
        request={media: TicketCreateSerializer for media in _MULTIPART},
        responses={201: TicketDetailSerializer, **error_responses(400, 409, 422)},
        examples=[
            OpenApiExample("About an order", request_only=True, value={
                "subject": "Parcel not delivered", "category": "order", "order": "ord_3fK9aQ0ZxWbT7uLcP2mN",
                "body": "The tracking has not moved for 5 days."}),
            OpenApiExample("Not your order", status_codes=["400"], response_only=True, value={"error": {
                "code": "order_not_found", "message": "No order ord_x in your account.",
                "fields": {"order": ["No order ord_x in your account."]}}}),
            _FILE_REFUSED_EXAMPLE, *error_examples(),
        ],
    )
    def create(self, request):
        data = self._validated(TicketCreateSerializer)
        ticket = services.open_ticket(
            partner=request.partner, subject=data["subject"], body=data["body"], category=data["category"],
            priority=data["priority"], order=services.find_order(partner=request.partner, reference=data["order"]),
            files=data["files"], actor=Actor.from_request(request), source=Message.Source.API,
        )
        return self._detail(ticket, status.HTTP_201_CREATED)

    @extend_schema(methods=["GET"], summary="A ticket's messages", tags=TAGS,
                   responses={200: MessageSerializer(many=True), **error_responses(404)},
                   examples=error_examples(404))
    @extend_schema(
        methods=["POST"], summary="Reply", tags=TAGS,
        description="Adds your message; a resolved ticket goes back to BigStock. A closed ticket refuses it "
                    "(409 `ticket_closed`): reopen it (`POST .../reopen` with the message) or open a new ticket.",
        request={media: ReplySerializer for media in _MULTIPART},
        responses={201: MessageSerializer, **error_responses(400, 404, 409, 422)},
        examples=[_CLOSED_EXAMPLE, _FILE_REFUSED_EXAMPLE, *error_examples(404)],
    )
    @action(detail=True, methods=["get", "post"], url_path="messages")
    def messages(self, request, id=None):
        ticket = self.get_object()
        if request.method == "GET":
            thread = Message.objects.for_partner(request.partner).visible_to_partner().filter(ticket=ticket)
            paginator = ThreadPagination()
            page = paginator.paginate_queryset(thread.prefetch_related("attachments"), request, view=self)
            return paginator.get_paginated_response(MessageSerializer(page, many=True,
                                                                      context=self.get_serializer_context()).data)
        data = self._validated(ReplySerializer)
        message = services.reply_as_partner(ticket=ticket, body=data["body"], files=data["files"],
                                            actor=Actor.from_request(request), source=Message.Source.API)
        message = Message.objects.prefetch_related("attachments").get(pk=message.pk)
        return Response(MessageSerializer(message, context=self.get_serializer_context()).data,
                        status=status.HTTP_201_CREATED)

    @extend_schema(summary="Reopen", tags=TAGS, request=ReopenSerializer,
                   description="A resolved ticket, or one closed recently; with `body`, your message is added.",
                   responses={200: TicketDetailSerializer, **error_responses(404, 409, 422)},
                   examples=error_examples(404))
    @action(detail=True, methods=["post"])
    def reopen(self, request, id=None):
        data = self._validated(ReopenSerializer)
        ticket = services.reopen_ticket(ticket=self.get_object(), actor=Actor.from_request(request),
                                        body=data["body"], source=Message.Source.API)
        return self._detail(ticket)

    @extend_schema(summary="Rate the answer", tags=TAGS, request=RatingSerializer,
                   description="Once the ticket is closed: 1 (poor) to 5 (excellent), with an optional comment.",
                   responses={200: TicketDetailSerializer, **error_responses(400, 404, 409, 422)},
                   examples=error_examples(404))
    @action(detail=True, methods=["post"])
    def rating(self, request, id=None):
        data = self._validated(RatingSerializer)
        ticket = services.rate_ticket(ticket=self.get_object(), rating=data["rating"], comment=data["comment"],
                                      actor=Actor.from_request(request))
        return self._detail(ticket)


@extend_schema_view(
    retrieve=extend_schema(summary="An attachment", tags=TAGS,
                           responses={200: AttachmentSerializer, **error_responses(404)},
                           examples=error_examples(404)),
    content=extend_schema(
        summary="An attachment's file", tags=TAGS,
        responses={(200, "application/octet-stream"): OpenApiResponse(
            OpenApiTypes.BINARY, description=gettext_lazy("The file, as an attachment, with its checked type.")),
            **error_responses(404)},
        examples=error_examples(404)),
)
class AttachmentViewSet(mixins.RetrieveModelMixin, PartnerScopedViewSet):
    queryset = Attachment.objects.visible_to_partner()
    serializer_class = AttachmentSerializer
    permission_classes = [PartnerAccess]

    @action(detail=True, methods=["get"], content_negotiation_class=FileNegotiation)
    def content(self, request, id=None):
        return attachment_response(self.get_object())
