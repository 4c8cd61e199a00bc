"""Partner events: the outbox every app publishes to, and the envelope partners receive.

``publish`` writes the event in the caller's transaction; webhook deliveries are created in
the same transaction and sent after commit (``bigstock.webhooks``). A rolled-back change
therefore never emits an event, and a committed one is never lost: partners can always
reconcile with ``GET /api/v1/events``.
"""

from django.db import transaction
from django.utils.translation import gettext_lazy as _

from . import sql
from .models import PartnerEvent

# Every event type, with what it means. Apps add theirs here as they start publishing them.
EVENT_TYPES: dict[str, str] = {
    "partner.updated": _("The business profile changed."),
    "partner.approved": _("BigStock approved the account: orders are open."),
    "member.added": _("Someone joined the team."),
    "member.removed": _("Someone left the team."),
    "webhook.test": _("A test event sent from the portal."),
    "subscription.updated": _("The subscription changed: plan, status, cancellation."),
    "standing.changed": _("How the account is served changed (active, grace, inactive, suspended)."),
    "invoice.finalized": _("An invoice was issued."),
    "invoice.paid": _("An invoice was paid in full."),
    "invoice.overdue": _("An invoice is past its due date."),
    "credit_note.issued": _("A credit note was issued."),
    "stock.changed": _("Availability changed: the SKUs with their new availability, batched every few seconds."),
    "order.created": _("An order was accepted and its stock reserved."),
    "order.checking": _("Pre-shipment checks started."),
    "order.on_hold": _("An order is on hold: the reason says what to do."),
    "order.ready": _("An order passed its checks and waits for picking."),
    "order.picking": _("An order is being picked."),
    "order.packed": _("An order is packed."),
    "order.shipped": _("An order has shipped."),
    "order.delivered": _("An order was delivered."),
    "order.cancelled": _("An order was cancelled and its stock released."),
    "order.returned": _("An order came back."),
    "shipment.created": _("A parcel left the warehouse, with its tracking number."),
    "tracking.updated": _("The carrier reported news of a parcel."),
    "ticket.created": _("A support ticket was opened."),
    "ticket.replied": _("A message was added to a support ticket (by you or by BigStock)."),
    "ticket.resolved": _("BigStock resolved a support ticket."),
}


def publish(*, partner, type: str, data: dict, endpoints=None) -> PartnerEvent:
    """Record ``type`` for ``partner`` and queue its webhook deliveries (after commit).

    ``endpoints``: the partner's ``webhooks.enabled_endpoints``, read earlier by a caller that
    publishes while holding a lock others wait for (the invoice number series), to keep it short.
    """
    if type not in EVENT_TYPES:
        raise ValueError(f"unknown event type {type!r}: add it to bigstock.events.EVENT_TYPES")
    from . import webhooks  # webhooks imports this module's models

    with transaction.atomic(savepoint=False):  # part of the caller's change: no savepoint of its own
        [event] = sql.insert([PartnerEvent(partner=partner, type=type, payload=data)])
        webhooks.fan_out(event, endpoints)
    return event


def envelope(event: PartnerEvent) -> dict:
    """What a partner receives, by webhook and by the events API."""
    return {
        "id": event.public_id,
        "type": event.type,
        "created_at": event.created_at.isoformat().replace("+00:00", "Z"),
        "data": event.payload,
    }
