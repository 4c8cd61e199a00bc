"""Template helpers of the orders portal, and the dashboard's "orders on hold" card (a tag, so the
partners app, above orders, does not import it)."""

from django import template
from django.utils.translation import gettext_lazy as _

from orders import services
from orders.models import Status

register = template.Library()

CHECK_LABELS = {
    "standing": _("Account in good standing"),
    "partner_approved": _("Account approved"),
    "address": _("Address, postcode and phone"),
    "destination": _("Destination served"),
    "reservation": _("Every item reserved"),
    "sku_active": _("Items still sold"),
    "parcel": _("Parcel weight and size"),
    "customs": _("Customs data"),
    "duplicate": _("Not a duplicate"),
    "value": _("Order value"),
}


@register.filter
def status_label(value: str) -> str:
    """``submitted`` → "Submitted", in the page's language."""
    try:
        return Status(value).label
    except ValueError:
        return value


@register.filter
def check_label(name: str) -> str:
    return CHECK_LABELS.get(name, name)


@register.inclusion_tag("orders/_holds_card.html", takes_context=True)
def holds_card(context, limit: int = 5) -> dict:
    """The partner's orders on hold, oldest first, with why and what to do."""
    partner = context.get("partner")
    if partner is None:
        return {"holds_count": 0, "holds": []}
    count, holds = services.holds_needing_action(partner=partner, limit=limit)
    return {"holds_count": count, "holds": holds}
