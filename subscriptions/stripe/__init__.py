"""The Stripe rail: cards and SEPA Direct Debit mandates, charged off-session.

BigStock's invoices stay the source of truth; Stripe only moves money. The modules:

* ``gateway``: every call to Stripe (the official ``stripe`` library), with timeouts and
  idempotency keys; nothing else imports ``stripe``;
* ``methods``: the Stripe Customer, saving and removing a card or SEPA mandate, choosing the rail;
* ``collection``: ``PaymentAttempt`` rows, off-session PaymentIntents and their outcomes;
* ``refunds``: refunds for credit notes;
* ``webhooks``: signed events in, stored once, processed on the ``billing`` queue;
* ``reconciliation``: the periodic sweep (stuck attempts, due retries, lost events);
* ``notify``: emails to partners and staff; ``rail``: the ``subscriptions.rails`` entry;
* ``tasks``: thin Celery tasks.
"""

from django.conf import settings


def is_enabled() -> bool:
    """Stripe is offered only when its keys are configured (otherwise the manual rail alone)."""
    return bool(settings.STRIPE_SECRET_KEY and settings.STRIPE_PUBLISHABLE_KEY)
