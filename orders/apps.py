from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OrdersConfig(AppConfig):
    """Orders, reservations, pre-shipment checks, shipping, tracking and priority queues."""

    name = "orders"
    verbose_name = _("Orders")

    def ready(self) -> None:
        from subscriptions.signals import standing_changed

        from . import receivers

        standing_changed.connect(receivers.on_standing_changed, dispatch_uid="orders.release_held")
