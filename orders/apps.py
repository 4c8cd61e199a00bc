from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OrdersConfig(AppConfig):
    """Orders, reservations, pre-shipment checks, shipping, tracking and priority queues."""

    name = "orders"
    verbose_name = _("Orders")
