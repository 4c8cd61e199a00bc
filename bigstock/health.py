"""Liveness and readiness probes, used by docker-compose and load balancers."""

import logging

from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache

from .celery import app as celery_app

logger = logging.getLogger(__name__)


@never_cache
def healthz(request):
    """The process is up and answering."""
    return JsonResponse({"status": "ok"})


def _database_ok() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return True
    except Exception:  # any driver error means "not ready"; the reason goes to the log
        logger.warning("readyz: database unreachable", exc_info=True)
        return False


def _broker_ok() -> bool:
    try:
        with celery_app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
        return True
    except Exception:  # kombu raises transport-specific errors
        logger.warning("readyz: broker unreachable", exc_info=True)
        return False


@never_cache
def readyz(request):
    """The database and the Celery broker are reachable: 200, otherwise 503 naming what is not."""
    checks = {"database": _database_ok(), "broker": _broker_ok()}
    ready = all(checks.values())
    return JsonResponse(
        {
            "status": "ok" if ready else "unavailable",
            "checks": {k: "ok" if v else "error" for k, v in checks.items()},
        },
        status=200 if ready else 503,
    )
