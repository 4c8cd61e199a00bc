"""The API's building blocks: the base view behaviour every endpoint shares
(idempotency keys, the error format), the API root and the JSON 404 for unknown URLs."""

from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import views, viewsets
from rest_framework.decorators import api_view, permission_classes
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.reverse import reverse

from . import idempotency
from .errors import json_error
from .tenancy import PartnerScopedMixin


def idempotency_scope(request) -> str:
    """Whose keys these are: the API key when one authenticated the request, else the user."""
    auth = request.auth
    if auth is not None and hasattr(auth, "pk"):
        return f"{type(auth).__name__.lower()}:{auth.pk}"
    return f"user:{request.user.pk}"


class IdempotentMixin:
    """POST with ``Idempotency-Key``: claim the key after authentication, store the response."""

    _idempotency_record = None

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
