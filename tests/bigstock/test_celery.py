import pytest

from bigstock.celery import BEAT_SCHEDULE, QUEUES
from bigstock.celery import app as celery_app


def test_every_priority_queue_exists():
    names = {queue.name for queue in celery_app.conf.task_queues}
    assert {"priority", "standard", "low", "billing", "webhooks", "default"} <= names == set(QUEUES)


def test_each_queue_has_its_own_routing_so_a_message_lands_in_one_queue_only():
    bindings = [(queue.exchange.name, queue.routing_key) for queue in celery_app.conf.task_queues]
    assert len(set(bindings)) == len(bindings)


def test_task_routes_send_billing_and_webhooks_to_their_queues():
    router = celery_app.amqp.router
    assert router.route({}, "subscriptions.tasks.run_monthly_invoicing")["queue"].name == "billing"
    assert router.route({}, "bigstock.tasks.deliver_webhook")["queue"].name == "webhooks"
    assert router.route({}, "bigstock.tasks.purge_idempotency_keys")["queue"].name == "default"


def test_tasks_are_acknowledged_late_and_rejected_when_their_worker_dies():
    assert celery_app.conf.task_acks_late is True
    assert celery_app.conf.task_reject_on_worker_lost is True
    assert celery_app.conf.task_time_limit > celery_app.conf.task_soft_time_limit > 0


def test_beat_schedule_only_names_registered_tasks():
    celery_app.loader.import_default_modules()
    for entry in BEAT_SCHEDULE.values():
        assert entry["task"] in celery_app.tasks


@pytest.mark.celery_worker
def test_a_real_worker_runs_a_task_from_the_broker(celery_worker):
    from bigstock.tasks import ping

    assert ping.apply_async(queue="default").get(timeout=30) == "pong"
    assert ping.apply_async(queue="billing").get(timeout=30) == "pong"
