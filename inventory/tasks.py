"""Inventory tasks (queue ``default``): thin wrappers that load ids and call one service."""

from celery import shared_task

from . import imports, reorder
from .feed_tasks import publish_stock_changes  # noqa: F401  (autodiscovery imports only this module)


@shared_task
def run_import(job_id: int) -> str:
    """Validate a staff import, then apply it all or nothing (a finished job is left as it is)."""
    return imports.run_import(job_id=job_id).status


@shared_task
def send_reorder_list() -> int:
    """Beat, daily: email stock staff the levels below their reorder point, with suggestions."""
    return reorder.notify_staff(lines=reorder.levels_to_reorder())
