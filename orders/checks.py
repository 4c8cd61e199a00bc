"""Pre-shipment checks ("vérifications avant expédition"): a registry of small functions.

Each check looks at an order and returns an ``Outcome`` with a stable ``code``; messages
and what to do are looked up by code (translated when shown), so stored results read in
the partner's language. Any blocking failure puts the order on hold.
"""

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass, field

import phonenumbers
from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from subscriptions import standing
from subscriptions.models import Standing
from subscriptions.vat import EU_COUNTRIES

BLOCK, WARN = "block", "warn"


@dataclass(frozen=True)
class Outcome:
    code: str
    passed: bool
    severity: str = BLOCK
    params: dict = field(default_factory=dict)


CheckFunction = Callable[["object"], Outcome]
REGISTRY: list[tuple[str, CheckFunction]] = []


def check(name: str):
    def register(function: CheckFunction) -> CheckFunction:
        REGISTRY.append((name, function))
        return function

    return register


OK = "ok"

# code -> (message, what to do). ``%(name)s`` placeholders come from the outcome's params.
MESSAGES = {
    OK: (_("Passed."), ""),
    "standing_inactive": (_("Your account has no active subscription, so orders are held."),
                          _("Choose a plan in Billing: held orders are processed as soon as you subscribe.")),
    "standing_suspended": (_("Your account is suspended for an unpaid invoice, so orders are held."),
                           _("Pay the overdue balance in Billing: held orders resume at once.")),
    "partner_not_approved": (_("BigStock has not approved your account yet."),
                             _("Complete your business profile; we will email you when it is approved.")),
    "address_incomplete": (_("The delivery address is missing: %(fields)s."),
                           _("Complete the address, then run the checks again.")),
    "postcode_invalid": (_("The postcode %(postcode)s is not valid for %(country)s."),
                         _("Correct the postcode, then run the checks again.")),
    "phone_invalid": (_("The phone number %(phone)s is not valid for %(country)s."),
                      _("Give the recipient's phone number with its country code, then run the checks again.")),
    "phone_missing": (_("The carrier needs the recipient's phone number."),
                      _("Add a phone number to the address, then run the checks again.")),
    "destination_not_served": (_("BigStock does not deliver to %(country)s."),
                               _("Cancel this order, or change the address to a country we serve.")),
    "line_not_reserved": (_("%(sku)s: %(missing)d of %(quantity)d units are not in stock yet (backorder)."),
                          _("The order waits for the stock; cancel it if you prefer.")),
    "sku_inactive": (_("%(sku)s is no longer sold."), _("Cancel this order and send it again without this item.")),
    "parcel_overweight": (_("The parcel weighs %(weight_kg)s kg, over the %(limit_kg)s kg limit of the %(service)s service."),
                          _("Split the order, or choose another carrier service.")),
    "parcel_oversize": (_("%(sku)s measures %(size_mm)d mm, over the carrier's %(limit_mm)d mm limit."),
                        _("Contact support: this item needs a special shipment.")),
    "customs_missing": (_("Customs data is missing for %(skus)s, needed outside the EU."),
                        _("BigStock completes it: no action needed, the order is released once done.")),
    "possible_duplicate": (_("Looks like order %(other)s sent less than 24 hours ago to the same address."),
                           _("If it is a mistake, cancel one of them.")),
    "value_review": (_("The order's value (%(value)s) is above the review threshold: BigStock checks it by hand."),
                     _("No action needed: we release it after review, usually within a working day.")),
}


# Address fields named in stored results by key, shown in the reader's language.
FIELD_LABELS = {"name": _("name"), "line1": _("address"), "postcode": _("postcode"), "city": _("city"),
                "country": _("country")}


def _shown(params: dict) -> dict:
    if isinstance(params.get("fields"), list):
        return {**params, "fields": ", ".join(str(FIELD_LABELS.get(key, key)) for key in params["fields"])}
    return params


def message_for(code: str, params: dict) -> str:
    template = MESSAGES.get(code, (code, ""))[0]
    return str(template) % _shown(params) if params else str(template)


def action_for(code: str, params: dict) -> str:
    template = MESSAGES.get(code, ("", ""))[1]
    return str(template) % _shown(params) if params else str(template)


# --- The checks -----------------------------------------------------------------------------------

POSTCODE_PATTERNS = {
    "FR": r"\d{5}", "DE": r"\d{5}", "ES": r"\d{5}", "IT": r"\d{5}", "BE": r"\d{4}", "LU": r"(L-)?\d{4}",
    "NL": r"\d{4} ?[A-Z]{2}", "PT": r"\d{4}-\d{3}", "AT": r"\d{4}", "CH": r"\d{4}", "DK": r"\d{4}",
    "SE": r"\d{3} ?\d{2}", "PL": r"\d{2}-\d{3}", "IE": r"[A-Z0-9]{3} ?[A-Z0-9]{4}", "GB": r"[A-Z]{1,2}\d[A-Z\d]? ?\d[A-Z]{2}",
    "US": r"\d{5}(-\d{4})?", "MC": r"980\d{2}",
}


@check("standing")
def standing_allows(order) -> Outcome:
    level = standing.level_for(order.partner)
    if level == Standing.Level.INACTIVE:
        return Outcome("standing_inactive", False)
    if level == Standing.Level.SUSPENDED:
        return Outcome("standing_suspended", False)
    return Outcome(OK, True)


@check("partner_approved")
def partner_approved(order) -> Outcome:
    return Outcome(OK, True) if order.partner.can_order else Outcome("partner_not_approved", False)


@check("address")
def address_valid(order) -> Outcome:
    missing = [key for key in FIELD_LABELS if not str(getattr(order, f"ship_to_{key}") or "").strip()]
    if missing:
        return Outcome("address_incomplete", False, params={"fields": missing})
    country = str(order.ship_to_country)
    pattern = POSTCODE_PATTERNS.get(country)
    postcode = order.ship_to_postcode.strip().upper()
    if pattern and not re.fullmatch(pattern, postcode):
        return Outcome("postcode_invalid", False, params={"postcode": postcode, "country": country})
    if not order.ship_to_phone.strip():
        return Outcome("phone_missing", False)
    try:
        valid = phonenumbers.is_valid_number(phonenumbers.parse(order.ship_to_phone, country))
    except phonenumbers.NumberParseException:
        valid = False
    if not valid:
        return Outcome("phone_invalid", False, params={"phone": order.ship_to_phone, "country": country})
    return Outcome(OK, True)


@check("destination")
def destination_served(order) -> Outcome:
    country = str(order.ship_to_country)
    if country in settings.BIGSTOCK_SERVED_COUNTRIES:
        return Outcome(OK, True)
    return Outcome("destination_not_served", False, params={"country": country})


@check("reservation")
def lines_reserved(order) -> Outcome:
    for line in order.lines.all():
        if line.quantity_reserved < line.quantity:
            return Outcome("line_not_reserved", False, params={
                "sku": line.sku, "missing": line.quantity - line.quantity_reserved, "quantity": line.quantity})
    return Outcome(OK, True)


@check("sku_active")
def skus_active(order) -> Outcome:
    for line in order.lines.all():
        if not line.product.is_active:
            return Outcome("sku_inactive", False, params={"sku": line.sku})
    return Outcome(OK, True)


@check("parcel")
def parcel_within_limits(order) -> Outcome:
    limits = settings.BIGSTOCK_CARRIER_LIMITS[order.carrier_service]
    weight_g = sum(line.product.weight_g * line.quantity for line in order.lines.all())
    if weight_g > limits["max_weight_g"]:
        return Outcome("parcel_overweight", False, params={
            "weight_kg": f"{weight_g / 1000:.1f}", "limit_kg": f"{limits['max_weight_g'] / 1000:.0f}",
            "service": order.carrier_service})
    for line in order.lines.all():
        size = max(line.product.length_mm, line.product.width_mm, line.product.height_mm)
        if size > limits["max_side_mm"]:
            return Outcome("parcel_oversize", False, params={"sku": line.sku, "size_mm": size,
                                                             "limit_mm": limits["max_side_mm"]})
    return Outcome(OK, True)


# Monaco is inside the EU customs territory (with France): no customs declaration.
CUSTOMS_UNION = EU_COUNTRIES | {"MC"}


@check("customs")
def customs_data(order) -> Outcome:
    if str(order.ship_to_country) in CUSTOMS_UNION:
        return Outcome(OK, True)
    missing = [line.sku for line in order.lines.all() if not (line.product.hs_code and line.product.country_of_origin)]
    if missing:
        return Outcome("customs_missing", False, params={"skus": ", ".join(missing)})
    return Outcome(OK, True)


@check("duplicate")
def possible_duplicate(order) -> Outcome:
    from .models import Order, Status

    since = timezone.now() - dt.timedelta(hours=24)
    items = sorted((line.sku, line.quantity) for line in order.lines.all())
    candidates = (
        Order.objects.for_partner(order.partner).exclude(pk=order.pk).exclude(status=Status.CANCELLED)
        .filter(created_at__gte=since, ship_to_postcode=order.ship_to_postcode,
                ship_to_line1__iexact=order.ship_to_line1, ship_to_name__iexact=order.ship_to_name)
        .prefetch_related("lines")[:20]
    )
    for other in candidates:
        if sorted((line.sku, line.quantity) for line in other.lines.all()) == items:
            return Outcome("possible_duplicate", False, WARN, params={"other": other.reference})
    return Outcome(OK, True, WARN)


@check("value")
def value_below_review_threshold(order) -> Outcome:
    from bigstock.money import format_cents

    if order.subtotal_cents > settings.BIGSTOCK_ORDER_REVIEW_THRESHOLD_CENTS:
        return Outcome("value_review", False, params={"value": format_cents(order.subtotal_cents)})
    return Outcome(OK, True)


def run_all(order) -> list[tuple[str, Outcome]]:
    return [(name, function(order)) for name, function in REGISTRY]
