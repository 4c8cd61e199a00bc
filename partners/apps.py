from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PartnersConfig(AppConfig):
    """Tenants: users, partners, memberships and roles, API keys, audit log."""

    name = "partners"
    verbose_name = _("Partners")

    def ready(self):
        from . import signals

        signals.connect()
