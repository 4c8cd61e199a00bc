"""Shared periodic housekeeping."""

from celery import shared_task

from . import idempotency


@shared_task
def purge_idempotency_keys() -> int:
    return idempotency.purge_expired()


@shared_task
def ping() -> str:
    """Round trip through the broker and a worker (used by tests and `make run` smoke checks)."""
    return "pong"
