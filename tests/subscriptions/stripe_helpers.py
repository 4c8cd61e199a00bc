"""Shared steps of the Stripe rail tests: a subscribed partner, a method saved the way the
portal saves it (a SetupIntent confirmed like Stripe.js does, read back by the server)."""

import datetime as dt

from partners.audit import SYSTEM, Actor
from partners.models import Role
from subscriptions import services
from subscriptions.models import Invoice
from subscriptions.stripe import methods
from tests.factories import MembershipFactory, PlanFactory

VISA = "4242424242424242"
DECLINED_WHEN_CHARGED = "4000000000000341"  # attaches, then every charge is declined
NEEDS_AUTHENTICATION = "4000002500003155"  # 3-D Secure on every payment
DECLINED_AT_SETUP = "4000000000000002"
IBAN = "DE89370400440532013000"
IBAN_FAILING = "DE62370400440532013001"  # the debit fails a moment after it starts


def subscribed_owner(*, price_cents: int = 9900, day: dt.date = dt.date(2026, 4, 1)):
    """An owner whose partner subscribed on ``day`` (a full month: one open invoice)."""
    owner = MembershipFactory(role=Role.OWNER)
    plan = PlanFactory(price_cents=price_cents)
    services.subscribe(partner=owner.partner, plan=plan, actor=SYSTEM, today=day)
    return owner


def open_invoice(partner) -> Invoice:
    return Invoice.objects.get(partner=partner, status=Invoice.Status.OPEN)


def save_method(emulator, owner, *, card: str | None = None, iban: str | None = None):
    """The portal's flow: SetupIntent, confirmed in the 'browser', saved by the server."""
    kind = "sepa_debit" if iban else "card"
    client_secret = methods.start_setup(partner=owner.partner, kind=kind)
    if iban:
        data = {"type": "sepa_debit", "sepa_debit": {"iban": iban},
                "billing_details": {"name": owner.partner.legal_name, "email": owner.partner.billing_email}}
    else:
        data = {"type": "card", "card": {"number": card or VISA, "exp_month": 12, "exp_year": 2031, "cvc": "123"}}
    confirmed = emulator.confirm_setup(client_secret, data)
    assert confirmed.get("status") == "succeeded", confirmed
    return methods.save_payment_method(partner=owner.partner, setup_intent_id=confirmed["id"],
                                       actor=Actor(user=owner.user))


def automatic_payment(owner) -> None:
    methods.switch_rail(subscription=services.current_subscription(owner.partner), rail="stripe",
                        actor=Actor(user=owner.user))
