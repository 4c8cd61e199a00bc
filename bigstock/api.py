"""The API's building blocks: the error format as documented in the schema, the base view behaviour every endpoint shares
(idempotency keys, the error format), the API root and the JSON 404 for unknown URLs."""

import threading

from django.db import transaction
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import exceptions, serializers, views, viewsets
from rest_framework.decorators import api_view, permission_classes
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.reverse import reverse

from . import idempotency
from .errors import json_error
from .tenancy import PartnerScopedMixin


def idempotency_scope(request) -> str:
    """Whose keys these are: the API key or the staff token that authenticated the request (a staff
    token by its public start: its primary key is its hash), else the user."""
    auth = request.auth
    if getattr(auth, "token_key", None):
        return f"token:{auth.token_key}"
    if auth is not None and hasattr(auth, "pk"):
        return f"{type(auth).__name__.lower()}:{auth.pk}"
    return f"user:{request.user.pk}"


class IdempotentMixin:
    """POST with ``Idempotency-Key``: claim the key after authentication, store the response.

    ``idempotent_atomic``: for views whose work only writes the database. The claim, the work and
    the stored response then commit together, in one transaction: a crash leaves no claim behind,
    and a retry racing the first request waits for it and replays its response."""

    idempotent_atomic = False
    _idempotency_record = None

    def dispatch(self, request, *args, **kwargs):
        if self.idempotent_atomic and request.method == "POST" and "Idempotency-Key" in request.headers:
            with transaction.atomic():
                return super().dispatch(request, *args, **kwargs)
        return super().dispatch(request, *args, **kwargs)

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        key = request.headers.get("Idempotency-Key")
        if request.method == "POST" and key is not None:
            self._idempotency_record = idempotency.begin(
                scope=idempotency_scope(request),
                key=key,
                method=request.method,
                path=request.path,
                body=request.body,
            )

    def handle_exception(self, exc):
        if isinstance(exc, idempotency.Replay):
            response = Response(exc.record.response_body, status=exc.record.response_status)
            response["Idempotent-Replayed"] = "true"
            return response
        return super().handle_exception(exc)

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        if self._idempotency_record is not None:
            idempotency.complete(
                self._idempotency_record, status_code=response.status_code, body=response.data
            )
            self._idempotency_record = None
        return response


class BaseAPIView(IdempotentMixin, views.APIView):
    """Base for every API view that is not a viewset."""


class PartnerScopedViewSet(PartnerScopedMixin, IdempotentMixin, viewsets.GenericViewSet):
    """The one base for partner-facing API viewsets: reads scoped to the calling partner,
    idempotent POSTs, public ids in URLs."""

    lookup_field = "public_id"
    lookup_url_kwarg = "id"


@extend_schema(exclude=True)
@api_view(["GET"])
@permission_classes([AllowAny])
def api_root(request):
    return Response(
        {
            "name": "BigStock partner API",
            "version": "v1",
            "schema": reverse("api:schema", request=request),
            "docs": reverse("api:docs", request=request),
        }
    )


def api_not_found(request, *args, **kwargs):
    return json_error(request, "not_found", _("No API endpoint at this address."), 404)


# --- Conventions shared by every serializer below ----------------------------------------


class PublicIdField(serializers.CharField):
    """The object's public id (``whe_...``) as ``id``: database ids never leave the server."""

    def __init__(self, **kwargs):
        super().__init__(source="public_id", read_only=True, **kwargs)


# --- The error format, as documented in the schema -----------------------------------------


class ErrorDetailSerializer(serializers.Serializer):
    code = serializers.CharField(
        help_text=gettext_lazy("Stable, machine-readable: `api_key_revoked`, `not_found`...")
    )
    message = serializers.CharField(help_text=gettext_lazy("For a person, in the request's language."))
    fields = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        help_text=gettext_lazy("Field name → messages, when fields were refused."),
    )


class ErrorSerializer(serializers.Serializer):
    error = ErrorDetailSerializer()


_ERROR_DESCRIPTIONS = {
    400: gettext_lazy(
        "Invalid request: `invalid` with one entry per refused field, or a business rule's code."
    ),
    401: gettext_lazy(
        "No valid credentials: `not_authenticated`, `api_key_unknown`, `api_key_revoked`, `api_key_expired`."
    ),
    403: gettext_lazy("`permission_denied`: the key lacks the scope, or the user's role does not allow it."),
    404: gettext_lazy("`not_found`: no such object for the calling partner."),
    409: gettext_lazy(
        "Conflict with the current state: `duplicate_reference`, `insufficient_stock`, "
        "`idempotency_key_in_use`..."
    ),
    422: gettext_lazy("`idempotency_key_reused`: the same Idempotency-Key was sent with another request."),
    429: gettext_lazy("`throttled`: too many requests; `retry_after_s` says when to retry."),
}
_ERROR_EXAMPLES = {
    401: OpenApiExample(
        "Revoked key",
        status_codes=["401"],
        response_only=True,
        value={
            "error": {
                "code": "api_key_revoked",
                "fields": {},
                "message": "This API key was revoked. Create a new one in the portal.",
            }
        },
    ),
    404: OpenApiExample(
        "Unknown id",
        status_codes=["404"],
        response_only=True,
        value={"error": {"code": "not_found", "message": "Not found.", "fields": {}}},
    ),
}


def error_responses(*statuses: int) -> dict:
    """The schema's ``responses`` entries for these error statuses (401, 403, 429 always)."""
    return {
        code: OpenApiResponse(ErrorSerializer, description=_ERROR_DESCRIPTIONS[code])
        for code in sorted({401, 403, 429, *statuses})
    }


def error_examples(*statuses: int) -> list[OpenApiExample]:
    return [_ERROR_EXAMPLES[code] for code in sorted({401, *statuses}) if code in _ERROR_EXAMPLES]


# --- Validating input ------------------------------------------------------------------


def _flat(errors, prefix: str = "") -> dict[str, list[str]]:
    """DRF's nested errors as the error format's flat ``fields``: ``ship_to.postcode``, ``lines[1].quantity``."""
    if isinstance(errors, dict):
        flat: dict[str, list[str]] = {}
        for key, value in errors.items():
            if isinstance(key, int):  # a list's errors by index
                name = f"{prefix}[{key}]"
            elif key == "non_field_errors" and prefix:
                name = prefix
            else:
                name = f"{prefix}.{key}" if prefix else key
            flat.update(_flat(value, name))
        return flat
    if isinstance(errors, list) and any(isinstance(item, dict) for item in errors):
        flat = {}
        for index, item in enumerate(errors):
            flat.update(_flat(item, f"{prefix}[{index}]"))
        return flat
    return {prefix: [str(message) for message in errors]} if errors else {}


_serializers = threading.local()  # per thread: (serializer class, language) -> the instance validating with it


def validated(serializer_class, data) -> dict:
    """``data`` as ``serializer_class`` validates it, or a 400 naming each refused field (``_flat``).

    Each thread validates with one kept instance per serializer class and language: a new
    instance copies every declared field (``deepcopy``), which cost more than validating an
    order's fields, and ``run_validation`` keeps nothing on the instance. One per language because
    DRF's length and range messages are translated once per instance, when first shown."""
    instances = _serializers.__dict__.setdefault("by_class", {})
    key = (serializer_class, get_language())
    serializer = instances.get(key)
    if serializer is None:
        serializer = instances[key] = serializer_class()
    try:
        return serializer.run_validation(data)
    except exceptions.ValidationError as error:
        raise exceptions.ValidationError(_flat(error.detail)) from None
