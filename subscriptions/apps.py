from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SubscriptionsConfig(AppConfig):
    """Plans, monthly subscriptions, invoices, payments and dunning."""

    name = "subscriptions"
    verbose_name = _("Subscriptions")
