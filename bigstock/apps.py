from django.apps import AppConfig


class BigstockConfig(AppConfig):
    """Shared building blocks: errors, API base, idempotency, tenancy, events. Imports no app."""

    name = "bigstock"
    verbose_name = "BigStock"
