"""Request ids: every response carries ``X-Request-ID`` and every log line written while
serving it carries the same id (Celery tasks get the id of the request that queued them
when it is passed along)."""

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
