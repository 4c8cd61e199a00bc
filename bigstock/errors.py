"""Domain errors and the one place the API turns any error into a response.

Services raise ``DomainError`` subclasses with a stable ``code``; the portal shows their
message on the form, the API answers ``{"error": {"code", "message", "fields"}}``.
"""

import logging

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, JsonResponse
from django.utils.translation import gettext as _
from rest_framework import exceptions, status
from rest_framework.response import Response

logger = logging.getLogger(__name__)


class DomainError(Exception):
    """A business rule refused the operation. Subclasses set ``code`` and ``status_code``."""

    code = "invalid_request"
    status_code = status.HTTP_400_BAD_REQUEST

    def __init__(self, message: str | None = None, *, fields: dict | None = None, **details):
        self.message = str(message or self.default_message())
        self.fields = fields or {}
        self.details = details
        super().__init__(self.message)

    def default_message(self) -> str:
        return _("The request could not be processed.")


class Conflict(DomainError):
    code = "conflict"
    status_code = status.HTTP_409_CONFLICT


class Forbidden(DomainError):
    code = "permission_denied"
    status_code = status.HTTP_403_FORBIDDEN

    def default_message(self) -> str:
        return _("You do not have permission to perform this action.")


# DRF exception class -> stable error code.
_DRF_CODES = {
    exceptions.NotFound: "not_found",
    exceptions.MethodNotAllowed: "method_not_allowed",
    exceptions.NotAuthenticated: "not_authenticated",
    exceptions.AuthenticationFailed: "authentication_failed",
    exceptions.PermissionDenied: "permission_denied",
    exceptions.Throttled: "throttled",
    exceptions.ParseError: "parse_error",
    exceptions.UnsupportedMediaType: "unsupported_media_type",
    exceptions.NotAcceptable: "not_acceptable",
    exceptions.ValidationError: "invalid",
}


def error_body(code: str, message: str, fields: dict | None = None, **details) -> dict:
    error = {"code": code, "message": message, "fields": fields or {}}
    error.update(details)
    return {"error": error}


def _flatten(detail):
    """DRF's nested ErrorDetail structures -> plain strings and lists."""
    if isinstance(detail, dict):
        return {key: _flatten(value) for key, value in detail.items()}
    if isinstance(detail, list):
        return [_flatten(value) for value in detail]
    return str(detail)


def api_exception_handler(exc, context):
    """DRF's EXCEPTION_HANDLER: every API error leaves in the one error format."""
    if isinstance(exc, DomainError):
        return Response(error_body(exc.code, exc.message, exc.fields, **exc.details), status=exc.status_code)
    if isinstance(exc, DjangoValidationError):
        fields = exc.message_dict if hasattr(exc, "error_dict") else {}
        exc = exceptions.ValidationError(detail=fields or exc.messages)
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()

    from rest_framework.views import exception_handler as drf_exception_handler  # imports our auth classes

    response = drf_exception_handler(exc, context)
    if response is None:
        return None  # unexpected: Django's handler500 answers in the error format
    # A specific code given when raising (``AuthenticationFailed(code="api_key_revoked")``) wins
    # over the generic one of the exception class.
    specific = exc.get_codes()
    if isinstance(specific, str) and specific != getattr(type(exc), "default_code", None):
        code = specific
    else:
        code = next((c for cls, c in _DRF_CODES.items() if isinstance(exc, cls)), None)
        code = code or (specific if isinstance(specific, str) else "error")
    details = {}
    if isinstance(exc, exceptions.ValidationError):
        detail = _flatten(exc.detail)
        if isinstance(detail, dict):
            fields = detail
            non_field = fields.pop("non_field_errors", None)
            message = " ".join(non_field) if non_field else _("Some fields are invalid.")
        else:
            fields, message = {}, " ".join(detail) if isinstance(detail, list) else detail
        response.data = error_body(code, message, fields)
        return response
    if isinstance(exc, exceptions.Throttled) and exc.wait is not None:
        details["retry_after_s"] = int(exc.wait)
    response.data = error_body(code, str(exc.detail), **details)
    return response


def is_api_request(request) -> bool:
    return request.path.startswith("/api/")


def json_error(request, code: str, message: str, status_code: int) -> JsonResponse:
    # Written as the API's renderer writes: compact, UTF-8 (not \u escapes).
    response = JsonResponse(error_body(code, message), status=status_code,
                            json_dumps_params={"ensure_ascii": False, "separators": (",", ":")})
    request_id = getattr(request, "request_id", None)
    if request_id:
        response["X-Request-ID"] = request_id
    return response
