"""Shared periodic housekeeping and outgoing webhooks (thin: each task calls one service)."""

from celery import shared_task

from . import idempotency, webhooks


@shared_task
def purge_idempotency_keys() -> int:
    return idempotency.purge_expired()


@shared_task
def ping() -> str:
    """Round trip through the broker and a worker (used by tests and `make run` smoke checks)."""
    return "pong"


@shared_task
def deliver_webhook(delivery_id: int) -> None:
    """One attempt of a webhook delivery; a duplicate or late message does nothing."""
    webhooks.deliver(delivery_id=delivery_id)


@shared_task
def sweep_webhook_deliveries() -> int:
    """Queue due retries and deliveries a broker lost; returns how many were queued."""
    return webhooks.sweep_due_deliveries()
