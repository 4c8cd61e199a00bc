"""Every call BigStock makes to Stripe, through the official ``stripe`` library.

One place for the client (keys, API base, timeout), the idempotency keys and what an error
means. Written for the real Stripe API; the tests run it against an emulator (localstripe),
which is why nothing here depends on what the emulator does differently: a PaymentMethod is
attached explicitly after a SetupIntent, ``latest_charge`` may be an id or an object, a
declined PaymentIntent is found through the charge when the error does not name it.
"""

import functools
import logging

import stripe
from django.conf import settings

logger = logging.getLogger(__name__)

StripeError = stripe.StripeError
CardError = stripe.CardError
SignatureVerificationError = stripe.SignatureVerificationError

WEBHOOK_TOLERANCE_S = 300


@functools.lru_cache(maxsize=4)
def _client(api_key: str, api_base: str, timeout_s: int) -> stripe.StripeClient:
    return stripe.StripeClient(
        api_key,
        base_addresses={"api": api_base},
        max_network_retries=1,  # with the same idempotency key: a retry never charges twice
        http_client=stripe.RequestsClient(timeout=timeout_s),
    )


def client() -> stripe.StripeClient:
    return _client(settings.STRIPE_SECRET_KEY, settings.STRIPE_API_BASE, settings.STRIPE_TIMEOUT_S)


def _options(idempotency_key: str | None) -> dict:
    return {"idempotency_key": idempotency_key} if idempotency_key else {}


# --- What an answer or an error means --------------------------------------------------------


def field(obj, name: str, default=None):
    """``obj[name]``, or ``default`` when Stripe's object does not have it (or has it null)."""
    try:
        value = obj[name]
    except (KeyError, TypeError):
        return default
    return default if value is None else value


def object_id(value) -> str:
    """The id of an expandable field: an id, an expanded object or nothing."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        return value
    return field(value, "id", "")


def is_missing(error: StripeError) -> bool:
    """Stripe says the object does not exist (deleted, or never ours)."""
    return isinstance(error, stripe.InvalidRequestError) and (
        error.http_status == 404 or error.code == "resource_missing")


def is_uncertain(error: StripeError) -> bool:
    """The request may or may not have been carried out: network, timeout, Stripe's own error,
    rate limit, a concurrent request with the same key. Only replaying the same idempotent
    request (or reading the object) tells."""
    return isinstance(error, stripe.APIConnectionError | stripe.APIError | stripe.RateLimitError
                      | stripe.IdempotencyError) or (error.http_status or 0) >= 500


def describe(error: StripeError) -> str:
    """A short, loggable description (Stripe's messages carry no card data)."""
    code = getattr(error, "code", None) or ""
    return f"{type(error).__name__}{f' ({code})' if code else ''}: {error.user_message or str(error)}"[:500]


# --- Customers -----------------------------------------------------------------------------


def create_customer(*, params: dict, idempotency_key: str):
    return client().v1.customers.create(params=params, options=_options(idempotency_key))


def update_customer(customer_id: str, *, params: dict):
    return client().v1.customers.update(customer_id, params=params)


def retrieve_customer(customer_id: str):
    return client().v1.customers.retrieve(customer_id)


def replace_vat_id(customer_id: str, vat_number: str) -> None:
    """Keep exactly one EU VAT id on the customer (Stripe takes them through their own endpoint)."""
    tax_ids = client().v1.customers.tax_ids
    current = tax_ids.list(customer_id).data
    if [tax_id.value for tax_id in current] == ([vat_number] if vat_number else []):
        return
    for tax_id in current:
        tax_ids.delete(customer_id, tax_id.id)
    if vat_number:
        tax_ids.create(customer_id, params={"type": "eu_vat", "value": vat_number})


def set_default_payment_method(customer_id: str, payment_method_id: str) -> None:
    client().v1.customers.update(customer_id, params={"invoice_settings": {"default_payment_method": payment_method_id}})


# --- Payment methods -----------------------------------------------------------------------


def create_setup_intent(*, customer_id: str, kind: str, metadata: dict):
    return client().v1.setup_intents.create(params={
        "customer": customer_id, "payment_method_types": [kind], "usage": "off_session", "metadata": metadata})


def retrieve_setup_intent(setup_intent_id: str):
    return client().v1.setup_intents.retrieve(setup_intent_id)


def retrieve_payment_method(payment_method_id: str):
    return client().v1.payment_methods.retrieve(payment_method_id)


def attach_payment_method(payment_method_id: str, customer_id: str):
    return client().v1.payment_methods.attach(payment_method_id, params={"customer": customer_id})


def detach_payment_method(payment_method_id: str) -> None:
    try:
        client().v1.payment_methods.detach(payment_method_id)
    except stripe.InvalidRequestError as error:
        if not is_missing(error) and "not attached" not in str(error):
            raise


def retrieve_mandate_reference(mandate_id: str) -> str:
    mandate = client().v1.mandates.retrieve(mandate_id)
    return mandate.payment_method_details.sepa_debit.reference


# --- Payments and refunds ------------------------------------------------------------------


def create_payment_intent(*, params: dict, idempotency_key: str):
    return client().v1.payment_intents.create(params=params, options=_options(idempotency_key))


def retrieve_payment_intent(payment_intent_id: str):
    return client().v1.payment_intents.retrieve(payment_intent_id)


def retrieve_charge(charge_id: str):
    return client().v1.charges.retrieve(charge_id)


def payment_intent_of_declined(error: CardError) -> str:
    """The PaymentIntent a decline is about: named by the error, or by its charge."""
    details = error.error
    payment_intent = object_id(field(details, "payment_intent"))
    if payment_intent:
        return payment_intent
    charge_id = object_id(field(details, "charge"))
    if charge_id:
        return object_id(field(retrieve_charge(charge_id), "payment_intent"))
    return ""


def create_refund(*, payment_intent_id: str, amount_cents: int, metadata: dict, idempotency_key: str):
    return client().v1.refunds.create(
        params={"payment_intent": payment_intent_id, "amount": amount_cents, "metadata": metadata},
        options=_options(idempotency_key))


def list_refunds(*, charge_id: str) -> list:
    return list(client().v1.refunds.list(params={"charge": charge_id, "limit": 100}).data)


# --- Webhooks ------------------------------------------------------------------------------


def construct_event(payload: bytes, signature: str | None):
    """The verified event, or ``SignatureVerificationError`` (missing, forged or older than 5 minutes)
    or ``ValueError`` (not JSON)."""
    return stripe.Webhook.construct_event(payload, signature, settings.STRIPE_WEBHOOK_SECRET,
                                          tolerance=WEBHOOK_TOLERANCE_S)
