"""The stock feed's periodic task (beat, every few seconds: ``bigstock.celery.BEAT_SCHEDULE``)."""

from celery import shared_task

from . import feed


@shared_task(ignore_result=True)
def publish_stock_changes() -> int:
    return feed.publish_stock_changes()
