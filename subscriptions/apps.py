from django.apps import AppConfig
from django.db.models.signals import post_save
from django.utils.translation import gettext_lazy as _


class SubscriptionsConfig(AppConfig):
    """Plans, monthly subscriptions, invoices, payments and dunning."""

    name = "subscriptions"
    verbose_name = _("Subscriptions")

    def ready(self):
        # The Stripe rail: its tasks (not in ``subscriptions.tasks``, so Celery's autodiscovery
        # misses them), its staff screens, and the Customer kept in step with billing details.
        from partners.models import Partner

        from . import stripe_admin  # noqa: F401
        from .stripe import methods, tasks  # noqa: F401

        post_save.connect(methods.partner_saved, sender=Partner, dispatch_uid="stripe_customer_sync")

        # Per-process caches of standing levels and plan terms forget what is saved here.
        from .models import Plan, Standing, Subscription
        from .services import plan_terms_cache
        from .standing import recent_levels

        recent_levels.forget_on_save(Standing, key=lambda standing: standing.partner_id)
        plan_terms_cache.forget_on_save(Subscription)
        plan_terms_cache.forget_on_save(Plan)
