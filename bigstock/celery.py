"""The Celery application: queues, routes and the beat schedule, each declared once here.

Queues carry the priority scheme: partners in good standing go to ``priority``, others to
``standard`` or ``low``; ``billing`` and ``webhooks`` are isolated so a slow partner endpoint
or a monthly run never delays order processing.

The database is the record of pending work: tasks are idempotent, acknowledged late and
rejected back to the queue if their worker dies; periodic sweeps re-dispatch anything a
broker lost (the embedded broker never redelivers after a hard kill).
"""

import os

from celery import Celery
from celery.schedules import crontab
from kombu import Exchange, Queue

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bigstock.settings")

app = Celery("bigstock")
app.config_from_object("django.conf:settings", namespace="CELERY")

QUEUES = ("priority", "standard", "low", "billing", "webhooks", "default")

# Task name patterns -> queue. Anything unmatched goes to "default".
TASK_ROUTES = {
    # process_order is sent to "priority" or "standard" by the dispatcher, per order.
    "orders.tasks.dispatch_orders": {"queue": "default"},
    "orders.tasks.sweep_orders": {"queue": "default"},
    "subscriptions.tasks.*": {"queue": "billing"},
    "subscriptions.stripe.tasks.*": {"queue": "billing"},
    "bigstock.tasks.deliver_webhook": {"queue": "webhooks"},
    "bigstock.tasks.sweep_webhook_deliveries": {"queue": "webhooks"},
    "bigstock.tasks.*": {"queue": "default"},
}

# Every periodic job, in one place. Entries are added by the issues that own the tasks.
BEAT_SCHEDULE: dict = {
    "purge-idempotency-keys": {
        "task": "bigstock.tasks.purge_idempotency_keys",
        "schedule": crontab(minute=17),
    },
    # Webhook retries are due rows in the database, not broker countdowns: this queues them,
    # and anything a broker lost. A sweep not started within 30 s is dropped (the next one
    # does the same work), so a stopped worker does not come back to a pile of sweeps.
    "sweep-webhook-deliveries": {
        "task": "bigstock.tasks.sweep_webhook_deliveries",
        "schedule": 30.0,
        "options": {"expires": 30},
    },
    # Billing, in Europe/Paris time: invoices just after midnight, dunning in the morning.
    "start-invoicing-run": {"task": "subscriptions.tasks.start_invoicing_run", "schedule": crontab(hour=0, minute=5)},
    "run-dunning": {"task": "subscriptions.tasks.run_dunning", "schedule": crontab(hour=7, minute=0)},
    "refresh-standings": {"task": "subscriptions.tasks.refresh_standings", "schedule": crontab(hour=2, minute=30)},
    "report-order-volumes": {"task": "orders.tasks.report_order_volumes", "schedule": crontab(hour=3, minute=10)},
    "sweep-orders": {"task": "orders.tasks.sweep_orders", "schedule": 15.0, "options": {"expires": 15}},
    "run-transition-campaign": {"task": "subscriptions.tasks.run_transition_campaign",
                                "schedule": crontab(hour=9, minute=0)},
    # Support: escalate tickets close to or past their SLA; close resolved ones left without a reply.
    "escalate-support-tickets": {"task": "support.tasks.escalate_tickets", "schedule": 300.0,
                                 "options": {"expires": 300}},
    "close-resolved-tickets": {"task": "support.tasks.close_resolved_tickets", "schedule": crontab(minute=40)},
    # Stock changes of the last window become ONE stock.changed event per subscribed partner.
    "publish-stock-changes": {"task": "inventory.feed_tasks.publish_stock_changes", "schedule": 10.0,
                              "options": {"expires": 10}},
    # Stock: the reorder list reaches stock staff before the morning's supplier orders.
    "send-reorder-list": {"task": "inventory.tasks.send_reorder_list", "schedule": crontab(hour=6, minute=30)},
    # Stripe: attempts without outcome read back, dunning retries, lost webhooks and refunds.
    "sweep-stripe-payments": {"task": "subscriptions.stripe.tasks.sweep_stripe_payments", "schedule": 600.0,
                              "options": {"expires": 600}},
}


def _broker_transport_options(broker_url: str, data_dir) -> dict:
    """Per-broker options (see DESIGN.md §7 for why each value)."""
    if broker_url.startswith("filesystem://"):
        folder = data_dir / "queue"
        control = data_dir / "control"
        folder.mkdir(parents=True, exist_ok=True)
        control.mkdir(parents=True, exist_ok=True)
        return {
            "data_folder_in": str(folder),
            "data_folder_out": str(folder),
            "control_folder": str(control),
            "polling_interval": 0.1,
        }
    if broker_url.startswith(("redis://", "rediss://")):
        # Longer than any task's hard time limit, so a slow task is not delivered twice.
        return {"visibility_timeout": 3600}
    return {}


def _defaults() -> dict:
    """Read lazily, the first time Celery's configuration is used (settings may override)."""
    from django.conf import settings as django_settings

    return dict(
        task_queues=[Queue(name, Exchange(name, type="direct"), routing_key=name) for name in QUEUES],
        task_default_queue="default",
        task_routes=TASK_ROUTES,
        beat_schedule=BEAT_SCHEDULE,
        beat_schedule_filename=django_settings.CELERY_BEAT_SCHEDULE_FILE,
        broker_transport_options=_broker_transport_options(
            django_settings.CELERY_BROKER_URL, django_settings.CELERY_EMBEDDED_BROKER_DIR
        ),
        broker_connection_retry_on_startup=True,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_time_limit=300,
        task_soft_time_limit=240,
        task_serializer="json",
        accept_content=["json"],
        result_expires=3600,
        timezone="Europe/Paris",
        enable_utc=True,
        worker_hijack_root_logger=False,
    )


app.add_defaults(_defaults)
app.autodiscover_tasks()
