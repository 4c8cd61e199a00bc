"""Order tasks: thin wrappers. ``process_order`` is routed per call to priority / standard."""

from celery import shared_task

from . import dispatch, services


@shared_task
def process_order(order_id: int) -> str | None:
    order = services.process_order(order_id=order_id)
    dispatch.dispatch_pending()  # a slot is free: refill it at once, fairly
    return order.status if order else None


@shared_task
def dispatch_orders() -> dict:
    return dispatch.dispatch_pending()


@shared_task
def sweep_orders() -> int:
    return dispatch.sweep()
