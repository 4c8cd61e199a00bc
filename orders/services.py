"""Orders: submit, check, hold and release, cancel, pick, pack, ship, track, return.

Each function is one transaction that changes the order through ``orders.states`` (so every
transition is allowed, on the timeline and published as an event) and stock only through
``inventory.services``.
"""

import logging
from collections import defaultdict
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _
from django_countries import countries

from bigstock import events, sql
from bigstock.errors import Conflict, DomainError
from bigstock.ids import new_public_id
from inventory import services as inventory
from partners import audit
from partners.audit import Actor

from . import checks, states, timeline
from .models import (
    CarrierService,
    CheckResult,
    DispatchState,
    Order,
    OrderEvent,
    OrderLine,
    Reservation,
    Shipment,
    ShipmentLine,
    Status,
    TrackingEvent,
)

logger = logging.getLogger(__name__)

SHIP_TO_FIELDS = ("name", "company", "line1", "line2", "postcode", "city", "country", "phone", "email")
REQUIRED_SHIP_TO = ("name", "line1", "postcode", "city", "country")
MAX_LINES = 200


class DuplicateReference(Conflict):
    code = "duplicate_reference"


class InvalidOrder(DomainError):
    code = "invalid_order"


@dataclass(frozen=True)
class LineIn:
    sku: str
    quantity: int


def _clean_ship_to(ship_to: dict) -> dict:
    cleaned = {field: str(ship_to.get(field) or "").strip() for field in SHIP_TO_FIELDS}
    cleaned["country"] = cleaned["country"].upper()
    errors = {f"ship_to.{field}": [_("This field is required.")] for field in REQUIRED_SHIP_TO if not cleaned[field]}
    if cleaned["country"] and cleaned["country"] not in countries:
        errors["ship_to.country"] = [_("%(country)s is not an ISO 3166 country code (for example FR).")
                                     % {"country": cleaned["country"]}]
    if errors:
        raise InvalidOrder(_("The delivery address is incomplete or invalid."), fields=errors)
    return cleaned


def _clean_lines(lines: list[LineIn]) -> dict[str, int]:
    if not lines:
        raise InvalidOrder(_("An order needs at least one line."), fields={"lines": [_("Add at least one line.")]})
    if len(lines) > MAX_LINES:
        raise InvalidOrder(_("An order has at most %(max)d lines.") % {"max": MAX_LINES})
    merged: dict[str, int] = defaultdict(int)
    errors = {}
    for index, line in enumerate(lines):
        sku = str(line.sku or "").strip()
        if not sku:
            errors[f"lines[{index}].sku"] = [_("This field is required.")]
        if not isinstance(line.quantity, int) or isinstance(line.quantity, bool) or line.quantity <= 0:
            errors[f"lines[{index}].quantity"] = [_("The quantity must be a whole number greater than zero.")]
        if sku and f"lines[{index}].quantity" not in errors:
            merged[sku] += line.quantity
    if errors:
        raise InvalidOrder(_("Some order lines are invalid."), fields=errors)
    return dict(merged)


def _transition(order: Order, to_status: str, *, actor: Actor, reason: str = "",
                why: timeline.Reason = timeline.NO_REASON) -> None:
    """Move ``order`` (locked by the caller) to ``to_status``: timeline, timestamps, event. The
    reason is a person's ``reason`` or BigStock's ``why``."""
    states.require_transition(order.status, to_status)
    previous, order.status = order.status, to_status
    now = timezone.now()
    stamps = {Status.SHIPPED: "shipped_at", Status.DELIVERED: "delivered_at", Status.CANCELLED: "cancelled_at"}
    update = ["status", "updated_at"]
    if to_status in stamps:
        setattr(order, stamps[to_status], now)
        update.append(stamps[to_status])
    order.save(update_fields=update)
    OrderEvent.objects.create(order=order, from_status=previous, to_status=to_status, actor_label=actor.label,
                              reason=reason[:500], reason_code=why.code, reason_params=why.params)
    events.publish(partner=order.partner, type=f"order.{to_status}", data=order_payload(order, reason=reason, why=why))


def order_payload(order: Order, *, reason: str = "", why: timeline.Reason = timeline.NO_REASON) -> dict:
    payload = {"id": order.public_id, "reference": order.reference, "status": order.status}
    if why.code:
        payload["reason"], payload["reason_code"] = why.text, why.code
    elif reason:
        payload["reason"] = reason
    return payload


def _lock(order: Order) -> Order:
    return Order.objects.select_for_update(of=("self",)).select_related("partner").get(pk=order.pk)


# --- Submission -------------------------------------------------------------------------------------


def submit_order(*, partner, reference: str, ship_to: dict, lines: list[LineIn], actor: Actor, notes: str = "",
                 carrier_service: str = CarrierService.STANDARD, backorder: bool = False,
                 source: str = "api") -> Order:
    """Validate, reserve the stock and record the order as ``submitted``, all in one transaction.

    Missing stock is refused with the available quantities, unless ``backorder``. The same
    partner reference twice is refused with the first order's id."""
    reference = str(reference or "").strip()
    try:
        return _submit(partner=partner, reference=reference, ship_to=ship_to, lines=lines, actor=actor, notes=notes,
                       carrier_service=carrier_service, backorder=backorder, source=source)
    except IntegrityError:
        # A reused reference is caught by the unique constraint, not by a read on every order. The
        # whole submission was rolled back (its reservation too); the first order stands.
        existing = Order.objects.for_partner(partner).filter(reference=reference).values_list("public_id", flat=True)
        if not existing:
            raise
        raise _duplicate(reference, existing[0]) from None


@transaction.atomic
def _submit(*, partner, reference: str, ship_to: dict, lines: list[LineIn], actor: Actor, notes: str,
            carrier_service: str, backorder: bool, source: str) -> Order:
    if not reference or len(reference) > 64:
        raise InvalidOrder(_("Give your own order reference (1 to 64 characters)."),
                           fields={"reference": [_("1 to 64 characters.")]})
    if carrier_service not in CarrierService.values:
        raise InvalidOrder(_("Unknown carrier service %(service)s.") % {"service": carrier_service},
                           fields={"carrier_service": [_("One of: %(values)s.") % {"values": ", ".join(CarrierService.values)}]})
    address = _clean_ship_to(ship_to)
    wanted = _clean_lines(lines)
    public_id = new_public_id("ord")
    products = inventory.products_by_sku(list(wanted))
    allocations, missing = inventory.reserve(
        lines=[inventory.LineRequest(sku, quantity) for sku, quantity in wanted.items()], partner=partner,
        actor=actor, reference=("order", public_id), allow_partial=backorder, products=products)
    discount = inventory.discount_for(partner)
    prices = {sku: inventory.discounted(products[sku].wholesale_price_cents, discount) for sku in wanted}
    # Written with bigstock.sql.insert (the ORM's inserts without its compiler): this is the API's
    # hottest write.
    [order] = sql.insert([Order(
        partner=partner, public_id=public_id, reference=reference, notes=notes, backorder=backorder,
        carrier_service=carrier_service, source=source, created_by_label=actor.label,
        subtotal_cents=sum(prices[sku] * quantity for sku, quantity in wanted.items()),
        **{f"ship_to_{field}": value for field, value in address.items()},
    )])
    order_lines = sql.insert([
        OrderLine(order=order, product=products[sku], sku=sku, quantity=quantity, unit_price_cents=prices[sku],
                  quantity_reserved=quantity - missing.get(sku, 0), position=position)
        for position, (sku, quantity) in enumerate(wanted.items())
    ])
    _remember_lines(order, order_lines)
    line_ids = {line.sku: line for line in order_lines}
    sql.insert([
        Reservation(order=order, line=line_ids[a.sku], level_id=a.level_id, warehouse_code=a.warehouse_code,
                    quantity=a.quantity)
        for a in allocations
    ])
    why = timeline.backorder(missing) if missing else timeline.NO_REASON
    sql.insert([OrderEvent(order=order, to_status=Status.SUBMITTED, actor_label=actor.label,
                           reason_code=why.code, reason_params=why.params)])
    events.publish(partner=partner, type="order.created", data={
        **order_payload(order), "lines": [{"sku": sku, "quantity": quantity} for sku, quantity in wanted.items()]})

    from . import dispatch  # dispatch queues tasks that call back into this module

    transaction.on_commit(dispatch.kick)
    return order


def _duplicate(reference: str, existing_id: str) -> DuplicateReference:
    return DuplicateReference(
        _("You already sent an order with the reference %(reference)s (%(id)s).") % {"reference": reference,
                                                                                      "id": existing_id},
        fields={"reference": [_("Already used.")]}, existing_order_id=existing_id)


# --- Checks -------------------------------------------------------------------------------------------


def _run_checks(order: Order, *, actor: Actor) -> None:
    """Store a new run of every check; hold on any blocking failure, else ready."""
    if order.status != Status.CHECKING:
        _transition(order, Status.CHECKING, actor=actor)
    run = (order.check_results.order_by("-run").values_list("run", flat=True).first() or 0) + 1
    order_for_checks = Order.objects.select_related("partner").prefetch_related("lines__product").get(pk=order.pk)
    outcomes = checks.run_all(order_for_checks)
    CheckResult.objects.bulk_create([
        CheckResult(order=order, run=run, check_name=name, code=outcome.code, passed=outcome.passed,
                    severity=outcome.severity, params=outcome.params)
        for name, outcome in outcomes
    ])
    blocking = [outcome for _name, outcome in outcomes if not outcome.passed and outcome.severity == checks.BLOCK]
    if order.checked_at is None:  # delays measure the first run; a re-run after a fix keeps it
        order.checked_at = timezone.now()
        order.save(update_fields=["checked_at", "updated_at"])
    if blocking:
        _transition(order, Status.ON_HOLD, actor=actor, why=timeline.checks_failed(blocking))
    else:
        _transition(order, Status.READY, actor=actor)


@transaction.atomic
def process_order(*, order_id: int, actor: Actor = audit.SYSTEM) -> Order | None:
    """A worker's job: run the checks of a submitted order, once however often it is delivered."""
    order = Order.objects.select_for_update(of=("self",)).select_related("partner").filter(pk=order_id).first()
    if order is None:
        return None
    if order.status == Status.SUBMITTED:
        _run_checks(order, actor=actor)
    if order.dispatch_state != DispatchState.DONE:
        order.dispatch_state = DispatchState.DONE
        order.save(update_fields=["dispatch_state", "updated_at"])
    return order


@transaction.atomic
def rerun_checks(*, order: Order, actor: Actor) -> Order:
    """The partner fixed something (address, payment): check again."""
    order = _lock(order)
    if order.status not in (Status.ON_HOLD, Status.READY):
        raise states.ForbiddenTransition(_("Checks can only be run again on an order on hold or ready."))
    _run_checks(order, actor=actor)
    return order


@transaction.atomic
def update_address(*, order: Order, ship_to: dict, actor: Actor) -> Order:
    """Correct the delivery address of an order on hold, then check it again."""
    order = _lock(order)
    if order.status != Status.ON_HOLD:
        raise states.ForbiddenTransition(_("The address can only be changed while the order is on hold."))
    for field, value in _clean_ship_to(ship_to).items():
        setattr(order, f"ship_to_{field}", value)
    order.save()
    _run_checks(order, actor=actor)
    return order


@transaction.atomic
def release_hold(*, order: Order, justification: str, actor: Actor) -> Order:
    """Staff release a held order with a written justification (audited)."""
    if len(justification.strip()) < 10:
        raise DomainError(_("Write why the hold is released (at least 10 characters)."),
                          fields={"justification": [_("At least 10 characters.")]})
    order = _lock(order)
    if order.status != Status.ON_HOLD:
        raise states.ForbiddenTransition(_("Only an order on hold can be released."))
    _transition(order, Status.READY, actor=actor, reason=justification)
    audit.record(actor=actor, action="order.hold_released", partner=order.partner, target=order,
                 data={"justification": justification})
    return order


@transaction.atomic
def cancel_order(*, order: Order, actor: Actor, reason: str = "") -> Order:
    """Cancel before shipping; the reserved stock goes back on sale."""
    order = _lock(order)
    states.require_transition(order.status, Status.CANCELLED)
    held = list(order.reservations.filter(state=Reservation.State.HELD).select_related("line"))
    inventory.release(allocations=[_allocation(r) for r in held], actor=actor, partner=order.partner,
                      reference=("order", order.public_id), reason=reason)
    Reservation.objects.filter(pk__in=[r.pk for r in held]).update(state=Reservation.State.RELEASED)
    order.dispatch_state = DispatchState.DONE
    order.save(update_fields=["dispatch_state", "updated_at"])
    _transition(order, Status.CANCELLED, actor=actor, reason=reason)
    return order


def _allocation(reservation: Reservation, quantity: int | None = None) -> inventory.Allocation:
    return inventory.Allocation(reservation.line.sku, reservation.level_id, reservation.warehouse_code,
                                quantity if quantity is not None else reservation.quantity)


# --- Fulfilment ------------------------------------------------------------------------------------------


@transaction.atomic
def start_picking(*, order: Order, actor: Actor) -> Order:
    order = _lock(order)
    _transition(order, Status.PICKING, actor=actor)
    return order


@transaction.atomic
def mark_packed(*, order: Order, actor: Actor) -> Order:
    order = _lock(order)
    _transition(order, Status.PACKED, actor=actor)
    return order


@transaction.atomic
def create_shipment(*, order: Order, quantities: dict[int, int] | None, carrier: str, tracking_number: str,
                    actor: Actor, tracking_url: str = "", weight_g: int = 0, service: str = "") -> Shipment:
    """Ship all (``quantities=None``) or part of a packed order: ``{order line id: quantity}``.
    Consumes the reservations; the order is ``shipped`` once every reserved unit has left."""
    order = _lock(order)
    if order.status != Status.PACKED:
        raise states.ForbiddenTransition(_("Only a packed order can be shipped."))
    if not carrier.strip() or not tracking_number.strip():
        raise DomainError(_("Give the carrier and the tracking number."),
                          fields={"carrier": [_("Required.")], "tracking_number": [_("Required.")]})
    held = list(order.reservations.filter(state=Reservation.State.HELD).select_related("line").order_by("pk"))
    outstanding: dict[int, int] = defaultdict(int)
    for reservation in held:
        outstanding[reservation.line_id] += reservation.quantity
    quantities = quantities if quantities is not None else dict(outstanding)
    for line_id, quantity in quantities.items():
        if quantity <= 0 or quantity > outstanding.get(line_id, 0):
            raise DomainError(_("Cannot ship %(quantity)s of a line with %(left)d reserved units left.")
                              % {"quantity": quantity, "left": outstanding.get(line_id, 0)})
    shipment = Shipment.objects.create(
        partner=order.partner, order=order, carrier=carrier.strip(), tracking_number=tracking_number.strip(),
        tracking_url=tracking_url, weight_g=weight_g, service=service or order.carrier_service,
        warehouse_code=held[0].warehouse_code if held else "")
    consumed, remaining = [], dict(quantities)
    for reservation in held:  # consume reservations (splitting one if shipped partly)
        take = min(remaining.get(reservation.line_id, 0), reservation.quantity)
        if take == 0:
            continue
        remaining[reservation.line_id] -= take
        consumed.append(_allocation(reservation, take))
        if take == reservation.quantity:
            reservation.state = Reservation.State.SHIPPED
            reservation.save(update_fields=["state"])
        else:
            Reservation.objects.filter(pk=reservation.pk).update(quantity=reservation.quantity - take)
            Reservation.objects.create(order=order, line=reservation.line, level_id=reservation.level_id,
                                       warehouse_code=reservation.warehouse_code, quantity=take,
                                       state=Reservation.State.SHIPPED)
    inventory.ship(allocations=consumed, actor=actor, partner=order.partner, reference=("order", order.public_id))
    ShipmentLine.objects.bulk_create([ShipmentLine(shipment=shipment, line_id=line_id, quantity=quantity)
                                      for line_id, quantity in quantities.items()])
    for line_id, quantity in quantities.items():
        OrderLine.objects.filter(pk=line_id).update(quantity_shipped=F("quantity_shipped") + quantity)
    events.publish(partner=order.partner, type="shipment.created", data={
        "id": shipment.public_id, "order": order.public_id, "carrier": shipment.carrier,
        "tracking_number": shipment.tracking_number, "tracking_url": shipment.tracking_url})
    if not order.reservations.filter(state=Reservation.State.HELD).exists():
        _transition(order, Status.SHIPPED, actor=actor)
    return shipment


@transaction.atomic
def add_tracking_event(*, shipment: Shipment, kind: str, occurred_at, actor: Actor, description: str = "",
                       location: str = "", source: str = "staff") -> TrackingEvent:
    """Record what the carrier says; ``delivered`` on every shipment closes the order."""
    if kind not in TrackingEvent.Kind.values:
        raise DomainError(_("Unknown tracking status %(kind)s.") % {"kind": kind},
                          fields={"kind": [_("One of: %(values)s.") % {"values": ", ".join(TrackingEvent.Kind.values)}]})
    event = TrackingEvent.objects.create(shipment=shipment, kind=kind, occurred_at=occurred_at,
                                         description=description, location=location, source=source)
    events.publish(partner=shipment.partner, type="tracking.updated", data={
        "shipment": shipment.public_id, "order": shipment.order.public_id, "kind": kind,
        "occurred_at": occurred_at.isoformat(), "description": description})
    if kind == TrackingEvent.Kind.DELIVERED:
        Shipment.objects.filter(pk=shipment.pk).update(delivered_at=occurred_at)
        order = _lock(shipment.order)
        if order.status == Status.SHIPPED and not order.shipments.filter(delivered_at=None).exists():
            _transition(order, Status.DELIVERED, actor=actor)
    return event


@transaction.atomic
def mark_returned(*, order: Order, actor: Actor, restock: bool = True, reason: str = "") -> Order:
    """The end customer sent the goods back; with ``restock`` they are sellable again."""
    order = _lock(order)
    states.require_transition(order.status, Status.RETURNED)
    if restock:
        from inventory.models import StockLevel

        for reservation in order.reservations.filter(state=Reservation.State.SHIPPED).select_related("line"):
            level = StockLevel.objects.select_related("product", "warehouse").get(pk=reservation.level_id)
            inventory.return_stock(product=level.product, warehouse=level.warehouse, quantity=reservation.quantity,
                                   actor=actor, partner=order.partner, reference=("order", order.public_id))
    _transition(order, Status.RETURNED, actor=actor, reason=reason)
    return order


# --- Added for the partner portal and API (orders/api.py, orders/views.py) ------------------------


def _remember_lines(order: Order, lines: list[OrderLine]) -> None:
    """Keep the lines just created on the order, as ``prefetch_related("lines")`` would: the API
    answers a submission from the order it gets back, without reading it again."""
    cached = OrderLine.objects.filter(order=order)
    cached._result_cache, cached._prefetch_done = lines, True
    order._prefetched_objects_cache = {"lines": cached}


def holds_needing_action(*, partner, limit: int = 5) -> tuple[int, list[Order]]:
    """How many of the partner's orders are on hold, and the ``limit`` oldest, each with
    ``blocking``: the failed blocking checks of its latest run (what to fix, in plain words)."""
    from django.db.models import Prefetch

    holds = Order.objects.for_partner(partner).filter(status=Status.ON_HOLD).order_by("submitted_at", "pk")
    failed = CheckResult.objects.filter(passed=False, severity=CheckResult.Severity.BLOCK)
    orders = list(holds.prefetch_related(Prefetch("check_results", queryset=failed, to_attr="failed_checks"))[:limit])
    for order in orders:
        latest = max((result.run for result in order.failed_checks), default=0)
        order.blocking = [result for result in order.failed_checks if result.run == latest]
    return (holds.count() if len(orders) == limit else len(orders)), orders
