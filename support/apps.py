from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SupportConfig(AppConfig):
    """Support tickets and their SLAs."""

    name = "support"
    verbose_name = _("Support")
