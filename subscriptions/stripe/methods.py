"""The partner as a Stripe Customer, its saved card or SEPA mandate, and the choice of rail.

One Customer per partner, created on first need under a lock and with an idempotency key,
updated when the billing details change. A method is saved through a SetupIntent confirmed
by Stripe.js in the portal; the server then reads the SetupIntent back, attaches its method
to the customer (the emulator does not do it; the real API already has) and makes it the
default. One saved method per partner: saving another replaces it.
"""

import hashlib
import json
import logging

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from partners import audit
from partners.audit import Actor
from partners.models import Partner

from .. import services
from ..models import StripeCustomer, StripePaymentMethod, Subscription
from ..vat import EU_COUNTRIES
from . import gateway, is_enabled
from .errors import NoPaymentMethod, PaymentMethodRefused, StripeNotOffered, StripeUnavailable

logger = logging.getLogger(__name__)

# Stripe's tax id type per country; other countries' numbers stay on our invoices only.
_TAX_ID_TYPES = {**dict.fromkeys(EU_COUNTRIES, "eu_vat"), "GB": "gb_vat", "CH": "ch_vat", "NO": "no_vat"}


# --- The customer ----------------------------------------------------------------------------


def _customer_params(partner: Partner) -> dict:
    return {
        "name": partner.legal_name,
        "email": partner.billing_email,
        "address": {"line1": partner.address_line1, "line2": partner.address_line2, "postal_code": partner.postcode,
                    "city": partner.city, "country": str(partner.country)},
        "metadata": {"partner": partner.public_id, "trade_name": partner.trade_name},
        "preferred_locales": ["fr"],
    }


def _vat_id(partner: Partner) -> str:
    return partner.vat_number if partner.vat_number and str(partner.country) in _TAX_ID_TYPES else ""


def _details_hash(partner: Partner) -> str:
    details = {**_customer_params(partner), "vat": _vat_id(partner)}
    return hashlib.sha256(json.dumps(details, sort_keys=True).encode()).hexdigest()


def current_customer(partner: Partner) -> StripeCustomer | None:
    return StripeCustomer.objects.for_partner(partner).filter(deleted_at=None).first()


def ensure_customer(*, partner: Partner) -> StripeCustomer:
    """The partner's Stripe Customer: created once (whoever asks first), updated if the billing
    details changed since the last sync. Raises ``gateway.StripeError``."""
    customer = current_customer(partner)
    if customer is None:
        with transaction.atomic():
            Partner.objects.select_for_update().get(pk=partner.pk)  # one creation per partner
            customer = current_customer(partner)
            if customer is None:
                params = _customer_params(partner)
                if _vat_id(partner):
                    params["tax_id_data"] = [{"type": _TAX_ID_TYPES[str(partner.country)], "value": _vat_id(partner)}]
                # Numbered: a partner whose customer was deleted gets a new one, not the old one replayed.
                number = StripeCustomer.objects.filter(partner=partner).count() + 1
                created = gateway.create_customer(params=params, idempotency_key=f"{partner.public_id}-customer-{number}")
                customer = StripeCustomer.objects.create(partner=partner, stripe_id=created.id,
                                                         details_hash=_details_hash(partner), synced_at=timezone.now())
                logger.info("stripe customer created", extra={"partner": partner.public_id})
        return customer
    if customer.details_hash != _details_hash(partner):
        sync_customer(customer=customer)
    return customer


def sync_customer(*, customer: StripeCustomer) -> None:
    """Send the partner's current billing details (name, email, address, VAT id) to Stripe."""
    partner = customer.partner
    gateway.update_customer(customer.stripe_id, params=_customer_params(partner))
    gateway.replace_vat_id(customer.stripe_id, _vat_id(partner))
    StripeCustomer.objects.filter(pk=customer.pk).update(details_hash=_details_hash(partner), synced_at=timezone.now())


def partner_saved(sender, instance: Partner, **kwargs) -> None:
    """``post_save`` of Partner: billing details changed → update the Stripe Customer after commit."""
    if not is_enabled():
        return
    customer = current_customer(instance)
    if customer is not None and customer.details_hash != _details_hash(instance):
        from . import tasks

        transaction.on_commit(lambda: tasks.sync_stripe_customer.delay(customer.pk))


# --- Saving and removing a method --------------------------------------------------------------


def saved_method(partner: Partner) -> StripePaymentMethod | None:
    return StripePaymentMethod.objects.for_partner(partner).filter(removed_at=None).first()


def _require_enabled() -> None:
    if not is_enabled():
        raise StripeNotOffered()


def start_setup(*, partner: Partner, kind: str) -> str:
    """A SetupIntent for a card or a SEPA mandate; returns the client secret Stripe.js confirms."""
    _require_enabled()
    if kind not in StripePaymentMethod.Kind.values:
        raise PaymentMethodRefused(_("Choose a card or a SEPA Direct Debit mandate."))
    try:
        customer = ensure_customer(partner=partner)
        setup = gateway.create_setup_intent(customer_id=customer.stripe_id, kind=kind,
                                            metadata={"partner": partner.public_id})
    except gateway.StripeError as error:
        logger.warning("stripe setup failed: %s", gateway.describe(error), extra={"partner": partner.public_id})
        raise StripeUnavailable() from error
    return setup.client_secret


_SETUP_REFUSED = {
    "requires_payment_method": _("Your bank refused this payment method. Try another card or account."),
    "requires_action": _("The authentication with your bank was not completed. Please try again."),
    "processing": _("Your bank is still checking this payment method. Reload this page in a minute."),
    "canceled": _("This setup was cancelled. Please start again."),
}


def save_payment_method(*, partner: Partner, setup_intent_id: str, actor: Actor) -> StripePaymentMethod:
    """Save the method of a succeeded SetupIntent as the partner's default, replacing the previous one."""
    _require_enabled()
    customer = current_customer(partner)
    try:
        setup = gateway.retrieve_setup_intent(setup_intent_id) if customer and setup_intent_id else None
        if setup is None or gateway.object_id(setup.customer) != customer.stripe_id:
            raise PaymentMethodRefused(_("This payment method setup was not found for your account. Please start again."))
        if setup.status != "succeeded":
            raise PaymentMethodRefused(str(_SETUP_REFUSED.get(setup.status, _SETUP_REFUSED["canceled"])))
        method_id = gateway.object_id(setup.payment_method)
        current = saved_method(partner)
        if current is not None and current.stripe_id == method_id:
            return current  # the return page reloaded: already saved
        stripe_method = gateway.retrieve_payment_method(method_id)
        if gateway.object_id(stripe_method.customer) != customer.stripe_id:
            stripe_method = gateway.attach_payment_method(method_id, customer.stripe_id)
        gateway.set_default_payment_method(customer.stripe_id, method_id)
        mandate_reference = ""
        if stripe_method.type == "sepa_debit":
            mandate_id = gateway.object_id(gateway.field(setup, "mandate"))
            mandate_reference = (gateway.retrieve_mandate_reference(mandate_id) if mandate_id
                                 else gateway.field(stripe_method.sepa_debit, "mandate_reference", ""))
    except gateway.StripeError as error:
        if gateway.is_missing(error):
            raise PaymentMethodRefused(_("This payment method setup was not found for your account. Please start "
                                         "again.")) from error
        logger.warning("stripe save method failed: %s", gateway.describe(error), extra={"partner": partner.public_id})
        raise StripeUnavailable() from error
    return _store_method(partner=partner, customer=customer, stripe_method=stripe_method,
                         mandate_reference=mandate_reference, actor=actor)


@transaction.atomic
def _store_method(*, partner, customer, stripe_method, mandate_reference: str, actor: Actor) -> StripePaymentMethod:
    Partner.objects.select_for_update().get(pk=partner.pk)
    previous = saved_method(partner)
    if previous is not None and previous.stripe_id == stripe_method.id:
        return previous
    if previous is not None:
        previous.removed_at = timezone.now()
        previous.save(update_fields=["removed_at"])
    fields = {"kind": stripe_method.type}
    if stripe_method.type == "card":
        card = stripe_method.card
        fields.update(brand=card.brand or "", last4=card.last4, exp_month=card.exp_month, exp_year=card.exp_year,
                      country=gateway.field(card, "country", ""))
    else:
        sepa = stripe_method.sepa_debit
        fields.update(last4=sepa.last4, country=gateway.field(sepa, "country", ""), mandate_reference=mandate_reference,
                      mandate_accepted_at=timezone.now())
    method = StripePaymentMethod.objects.create(partner=partner, customer=customer, stripe_id=stripe_method.id,
                                                **fields)
    audit.record(actor=actor, action="payment_method.saved", partner=partner, target=method, data={
        "kind": method.kind, "label": method.label, "mandate_reference": method.mandate_reference,
        "replaces": previous.label if previous else None})
    from . import tasks

    if previous is not None:
        previous_id = previous.stripe_id
        transaction.on_commit(lambda: tasks.detach_stripe_payment_method.delay(previous_id))
    subscription = services.current_subscription(partner)
    if subscription is not None and subscription.rail == Subscription.Rail.STRIPE:
        partner_id = partner.pk
        transaction.on_commit(lambda: tasks.collect_open_invoices.delay(partner_id))
    return method


def remove_payment_method(*, partner: Partner, actor: Actor) -> StripePaymentMethod:
    """Detach the saved method in Stripe, then forget it; invoices go back to bank transfer."""
    method = saved_method(partner)
    if method is None:
        raise NoPaymentMethod()
    try:
        gateway.detach_payment_method(method.stripe_id)
    except gateway.StripeError as error:
        logger.warning("stripe detach failed: %s", gateway.describe(error), extra={"partner": partner.public_id})
        raise StripeUnavailable() from error
    forget_payment_method(method=method, actor=actor, action="payment_method.removed")
    return method


@transaction.atomic
def forget_payment_method(*, method: StripePaymentMethod, actor: Actor, action: str) -> bool:
    """Mark the method removed (it is gone from Stripe) and fall back to bank transfer. False if it already was."""
    method = StripePaymentMethod.objects.select_for_update().get(pk=method.pk)
    if method.removed_at is not None:
        return False
    method.removed_at = timezone.now()
    method.save(update_fields=["removed_at"])
    audit.record(actor=actor, action=action, partner=method.partner, target=method,
                 data={"kind": method.kind, "label": method.label})
    subscription = services.current_subscription(method.partner)
    if subscription is not None and subscription.rail == Subscription.Rail.STRIPE:
        _set_rail(subscription, Subscription.Rail.MANUAL, actor)
    return True


# --- Choosing the rail -------------------------------------------------------------------------


def _set_rail(subscription: Subscription, rail: str, actor: Actor) -> None:
    previous = subscription.rail
    subscription.rail = rail
    subscription.save(update_fields=["rail", "updated_at"])
    audit.record(actor=actor, action="subscription.rail_changed", partner=subscription.partner, target=subscription,
                 data={"from": previous, "to": rail})


@transaction.atomic
def switch_rail(*, subscription: Subscription, rail: str, actor: Actor) -> Subscription:
    """Pay invoices automatically with the saved method (``stripe``) or by bank transfer (``manual``).
    Switching to Stripe charges the open invoices not yet tried."""
    subscription = Subscription.objects.select_for_update(of=("self",)).select_related("partner").get(pk=subscription.pk)
    if rail not in Subscription.Rail.values:
        raise PaymentMethodRefused(_("Choose bank transfer or automatic payment."))
    if rail == Subscription.Rail.STRIPE:
        _require_enabled()
        if saved_method(subscription.partner) is None:
            raise NoPaymentMethod()
    if subscription.rail == rail:
        return subscription
    _set_rail(subscription, rail, actor)
    if rail == Subscription.Rail.STRIPE:
        from . import tasks

        partner_id = subscription.partner_id
        transaction.on_commit(lambda: tasks.collect_open_invoices.delay(partner_id))
    return subscription
