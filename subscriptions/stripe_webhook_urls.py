"""``/webhooks/stripe/``: where Stripe sends its signed events (not a portal page)."""

from django.urls import path

from . import stripe_views

urlpatterns = [path("", stripe_views.stripe_webhook, name="stripe_webhook")]
