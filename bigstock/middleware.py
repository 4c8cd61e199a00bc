"""Request ids: every response carries ``X-Request-ID`` and every log line written while
serving it carries the same id (Celery tasks get the id of the request that queued them
when it is passed along). And ``portal_only``: the portal's middleware, left out of API calls
made with an API key."""

import contextvars
import datetime
import logging
import re
import uuid

from django.utils import timezone

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")
_VALID_INCOMING = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


class RequestIdMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.headers.get("X-Request-ID", "")
        request_id = incoming if _VALID_INCOMING.match(incoming) else uuid.uuid4().hex
        request.request_id = request_id
        token = request_id_var.set(request_id)
        # The API speaks UTC (ISO 8601 with Z); the portal shows Europe/Paris.
        api = request.path.startswith("/api/")
        if api:
            timezone.activate(datetime.UTC)
        try:
            response = self.get_response(request)
        finally:
            request_id_var.reset(token)
            if api:
                timezone.deactivate()
        response["X-Request-ID"] = request_id
        return response


class RequestIdLogFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            # Django logs a failed response after the middleware returned: use its request.
            request = getattr(record, "request", None)
            record.request_id = getattr(request, "request_id", None) or request_id_var.get()
        return True


def api_key_call(request) -> bool:
    """An API call authenticated by its ``Authorization`` header, a partner's ``Bearer`` key or a
    staff member's ``Token`` (the warehouse API): no session, no cookies, no CSRF, no portal
    partner; DRF authenticates it and sets ``request.user`` (and, for a key, the partner)."""
    return request.path.startswith("/api/") and request.META.get("HTTP_AUTHORIZATION", "")[:7].lower() in (
        "bearer ", "token ")


def portal_only(middleware_class):
    """``middleware_class``, skipped for API-key calls (it serves the portal's sessions, messages,
    partner switcher or 2FA). Its ``process_view`` hooks, if any, still run: CSRF's returns at
    once for DRF's views, which are exempt."""

    class PortalOnly(middleware_class):
        def __call__(self, request):
            if api_key_call(request):
                return self.get_response(request)
            return super().__call__(request)

    PortalOnly.__name__ = PortalOnly.__qualname__ = f"PortalOnly{middleware_class.__name__}"
    return PortalOnly
