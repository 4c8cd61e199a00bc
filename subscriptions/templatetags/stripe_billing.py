"""Stripe on the billing pages: ``{% stripe_payment_summary %}`` (the saved card or mandate and a
link to manage it; nothing when Stripe is not configured) and ``{% stripe_is_enabled as on %}``."""

from django import template

from ..stripe import is_enabled, methods

register = template.Library()


@register.inclusion_tag("subscriptions/stripe/_summary.html", takes_context=True)
def stripe_payment_summary(context):
    partner = context.get("partner")
    enabled = is_enabled() and partner is not None
    return {"enabled": enabled, "method": methods.saved_method(partner) if enabled else None,
            "subscription": context.get("subscription"), "can": context.get("can", {})}


@register.simple_tag
def stripe_is_enabled() -> bool:
    """``{% stripe_is_enabled as stripe_on %}``: whether to show the payment method link."""
    return is_enabled()
