"""Order tasks: thin wrappers. ``process_order`` is routed per call to priority / standard."""

from celery import shared_task

from . import dispatch


@shared_task
def process_order(order_id: int) -> str | None:
    return dispatch.process(order_id=order_id)


@shared_task
def dispatch_orders() -> dict:
    return dispatch.dispatch_pending()


@shared_task
def sweep_orders() -> int:
    return dispatch.sweep()


# --- Added with orders/imports.py (the portal's CSV import; default queue) ------------------------


@shared_task
def run_order_import(import_id: int) -> int:
    from . import imports

    job = imports.run_import(import_id=import_id)
    return job.processed if job else 0


@shared_task
def report_order_volumes() -> int:
    """Beat, daily: monthly order volumes per partner, for plan fit and upgrade suggestions."""
    from . import usage

    return usage.report_volumes()
