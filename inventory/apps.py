from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class InventoryConfig(AppConfig):
    """Catalogue, warehouses, stock levels and their ledger, inbound supply, the stock feed."""

    name = "inventory"
    verbose_name = _("Inventory")
