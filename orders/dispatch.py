"""The dispatcher: hands submitted orders to workers by standing, fairly between partners.

* ``active`` partners' orders go to the ``priority`` queue, ``grace`` to ``standard``;
  ``inactive`` and ``suspended`` partners' orders are held (``DispatchState.HELD``, status
  still ``submitted``, the reason is the partner's ``Standing.reason``) until their standing
  recovers (``subscriptions.signals.standing_changed``, and the sweep in case a signal is
  missed).
* Only ``BIGSTOCK_ORDER_QUEUE_DEPTH`` orders per queue are in the broker at once; the rest
  wait in the database. Each time there is room, the slot goes to the partner with the
  smallest share of the queue (orders in flight / plan priority weight), oldest order first
  within a partner. So a partner with a burst of thousands holds at most the slots nobody
  else wants, and another partner's single order waits behind at most a queue's depth.
* Dispatchers run one at a time (a PostgreSQL advisory lock; SQLite transactions are
  already serial), so the depth is never exceeded by two dispatchers filling the same slot.
* The database is the record of what waits: a broker that is down loses nothing. ``kick``
  swallows the broker's error, a failed send puts the orders back to waiting, and the sweep
  (beat, every 15 s) dispatches what waits and re-sends queued orders whose task never ran.
"""

import datetime as dt
import heapq
import logging
from collections import defaultdict

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, F, Window
from django.db.models.functions import RowNumber
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerUnreachable

from bigstock import flags
from bigstock.errors import DomainError
from subscriptions.models import Standing, Subscription

from .models import CheckResult, DispatchState, Order, Status

logger = logging.getLogger(__name__)

QUEUE_FOR_STANDING = {Standing.Level.ACTIVE: "priority", Standing.Level.GRACE: "standard"}
HELD_STANDINGS = (Standing.Level.INACTIVE, Standing.Level.SUSPENDED)
STALE_AFTER = dt.timedelta(minutes=5)
# Set by ``kick`` when it queues a dispatch, cleared by the dispatch as it starts: submissions
# committed before the clear are seen by that dispatch, later ones kick again. The timeout
# bounds how long a per-process cache (the embedded default) delays the next kick.
KICK_KEY = "orders:dispatch-requested"
KICK_TIMEOUT_S = 1
ADVISORY_LOCK_KEY = 0x6F72_6473  # "ords": one dispatcher at a time on PostgreSQL


def kick() -> None:
    """Ask for a dispatch soon; at most one pending request (the broker being down is not an error)."""
    from . import tasks

    if flags.set_once(KICK_KEY, ttl_s=KICK_TIMEOUT_S):
        try:
            tasks.dispatch_orders.delay()
        except BrokerUnreachable:  # the orders are safe in the database: the beat sweep dispatches them
            flags.clear(KICK_KEY)
            logger.warning("dispatch request not queued (broker unreachable)", exc_info=True)


def _levels(partner_ids) -> dict[int, str]:
    stored = dict(Standing.objects.filter(partner_id__in=partner_ids).values_list("partner_id", "level"))
    return {pk: stored.get(pk, Standing.Level.ACTIVE) for pk in partner_ids}


def _weights(partner_ids) -> dict[int, int]:
    weights = dict(
        Subscription.objects.filter(partner_id__in=partner_ids).exclude(status=Subscription.Status.CANCELED)
        .values_list("partner_id", "plan__priority_weight")
    )
    return {pk: max(1, weights.get(pk) or 1) for pk in partner_ids}


def fair_pick(candidates: dict[int, list[int]], in_flight: dict[int, int], weights: dict[int, int],
              capacity: int) -> list[int]:
    """Up to ``capacity`` order ids, each slot to the partner whose share after taking it,
    (in flight + taken + 1) / weight, is smallest; ties go to the partner listed first
    (``candidates`` is ordered by oldest waiting order). Within a partner, in the given order."""
    heap = [((in_flight.get(partner, 0) + 1) / weights[partner], rank, partner)
            for rank, (partner, ids) in enumerate(candidates.items()) if ids]
    heapq.heapify(heap)
    taken: dict[int, int] = defaultdict(int)
    chosen: list[int] = []
    while heap and len(chosen) < capacity:
        _share, rank, partner = heapq.heappop(heap)
        chosen.append(candidates[partner][taken[partner]])
        taken[partner] += 1
        if taken[partner] < len(candidates[partner]):
            share = (in_flight.get(partner, 0) + taken[partner] + 1) / weights[partner]
            heapq.heappush(heap, (share, rank, partner))
    return chosen


def _one_dispatcher_at_a_time() -> None:
    """Serialize dispatchers until the transaction ends (SQLite's IMMEDIATE transactions already are)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [ADVISORY_LOCK_KEY])


def _oldest_per_partner(waiting, partners: list[int], per_partner: int) -> dict[int, list[int]]:
    """At most ``per_partner`` waiting order ids per partner, oldest first; partners ordered by
    their oldest waiting order. One query; the database ranks the rows, Python reads few."""
    ranked = (
        waiting.filter(partner_id__in=partners)
        .annotate(rank=Window(RowNumber(), partition_by=[F("partner_id")], order_by=[F("created_at").asc(),
                                                                                       F("pk").asc()]))
        .filter(rank__lte=per_partner)
        .order_by("created_at", "pk")
        .values_list("partner_id", "pk")
    )
    candidates: dict[int, list[int]] = defaultdict(list)
    for partner_id, order_id in ranked:
        candidates[partner_id].append(order_id)
    return dict(candidates)


@transaction.atomic
def dispatch_pending() -> dict[str, int]:
    """Hold what must wait for standing, then fill each queue up to its depth, fairly."""
    flags.clear(KICK_KEY)
    _one_dispatcher_at_a_time()
    waiting = Order.objects.filter(dispatch_state=DispatchState.WAITING, status=Status.SUBMITTED)
    partner_ids = list(waiting.order_by().values_list("partner_id", flat=True).distinct())
    if not partner_ids:
        return {}
    levels = _levels(partner_ids)
    held = [pk for pk, level in levels.items() if level in HELD_STANDINGS]
    if held:
        waiting.filter(partner_id__in=held).update(dispatch_state=DispatchState.HELD)
    weights = _weights(partner_ids)
    in_flight: dict[str, dict[int, int]] = defaultdict(dict)
    for queue, partner_id, count in (Order.objects.filter(dispatch_state=DispatchState.QUEUED).order_by()
                                     .values_list("queue", "partner_id").annotate(n=Count("pk"))):
        in_flight[queue][partner_id] = count
    sent: dict[str, int] = {}
    depth = settings.BIGSTOCK_ORDER_QUEUE_DEPTH
    for level, queue in QUEUE_FOR_STANDING.items():
        capacity = depth - sum(in_flight[queue].values())
        partners = [pk for pk, partner_level in levels.items() if partner_level == level]
        if capacity <= 0 or not partners:
            continue
        candidates = _oldest_per_partner(waiting, partners, capacity)
        chosen = fair_pick(candidates, in_flight[queue], weights, capacity)
        locked = Order.objects.filter(pk__in=chosen, dispatch_state=DispatchState.WAITING)
        if connection.features.has_select_for_update_skip_locked:
            locked = locked.select_for_update(skip_locked=True)  # an order being cancelled right now
        still_waiting = set(locked.values_list("pk", flat=True))
        ids = [pk for pk in chosen if pk in still_waiting]  # fair order kept: the broker queue is FIFO
        Order.objects.filter(pk__in=ids).update(dispatch_state=DispatchState.QUEUED, queue=queue,
                                                dispatched_at=timezone.now())
        transaction.on_commit(lambda ids=ids, queue=queue: _send(ids, queue))
        sent[queue] = len(ids)
    return sent


def _send(order_ids: list[int], queue: str) -> None:
    """Queue one task per order; if the broker is unreachable, what was not sent waits again."""
    from . import tasks

    for position, order_id in enumerate(order_ids):
        try:
            tasks.process_order.apply_async((order_id,), queue=queue)
        except BrokerUnreachable:
            unsent = order_ids[position:]
            Order.objects.filter(pk__in=unsent, dispatch_state=DispatchState.QUEUED).update(
                dispatch_state=DispatchState.WAITING, dispatched_at=None)
            logger.warning("%d orders not queued (broker unreachable): waiting for the sweep", len(unsent),
                           exc_info=True)
            return


def process(*, order_id: int) -> str | None:
    """A worker's job for one queued order: hold it if the partner's standing no longer allows
    processing (checked again here: it may have changed since dispatch), else run its checks;
    then refill the freed slot."""
    from . import services

    order = Order.objects.filter(pk=order_id).only("pk", "partner_id", "status", "dispatch_state").first()
    if order is None:
        return None
    if order.status == Status.SUBMITTED and _levels([order.partner_id])[order.partner_id] in HELD_STANDINGS:
        Order.objects.filter(pk=order_id, status=Status.SUBMITTED).exclude(
            dispatch_state=DispatchState.DONE).update(dispatch_state=DispatchState.HELD)
        status = Status.SUBMITTED
    else:
        processed = services.process_order(order_id=order_id)
        status = processed.status if processed else None
    dispatch_pending()
    return status


@transaction.atomic
def release_held(*, partner_id: int) -> int:
    """The partner's standing recovered: its held orders wait for a worker again, and orders
    put on hold by the standing check (they were in a queue when it changed) are checked again."""
    from partners import audit

    from . import services

    count = Order.objects.filter(partner_id=partner_id, dispatch_state=DispatchState.HELD).update(
        dispatch_state=DispatchState.WAITING)
    if count:
        transaction.on_commit(kick)
    for order in _on_hold_for_standing(partner_id):
        try:
            services.rerun_checks(order=order, actor=audit.SYSTEM)
        except DomainError:  # changed meanwhile (cancelled, released by staff): nothing to re-check
            logger.info("order %s not re-checked", order.public_id, extra={"order": order.public_id})
    return count


def _on_hold_for_standing(partner_id: int) -> list[Order]:
    """The partner's orders on hold whose latest run of checks failed the standing check."""
    on_hold = list(Order.objects.filter(partner_id=partner_id, status=Status.ON_HOLD))
    if not on_hold:
        return []
    latest: dict[int, int] = {}
    failed: set[tuple[int, int]] = set()
    for order_id, run, name, passed in CheckResult.objects.filter(order__in=on_hold).values_list(
            "order_id", "run", "check_name", "passed"):
        latest[order_id] = max(run, latest.get(order_id, 0))
        if name == "standing" and not passed:
            failed.add((order_id, run))
    return [order for order in on_hold if (order.pk, latest.get(order.pk)) in failed]


@transaction.atomic
def sweep() -> int:
    """Re-send orders queued long ago whose task never ran (a broker lost it), release held
    orders whose partner's standing recovered without the signal reaching us, then dispatch."""
    stale = list(Order.objects.filter(dispatch_state=DispatchState.QUEUED,
                                      dispatched_at__lt=timezone.now() - STALE_AFTER).values_list("pk", "queue"))
    by_queue: dict[str, list[int]] = defaultdict(list)
    for order_id, queue in stale:
        by_queue[queue].append(order_id)
    Order.objects.filter(pk__in=[pk for pk, _q in stale]).update(dispatched_at=timezone.now())
    for queue, ids in by_queue.items():
        transaction.on_commit(lambda ids=ids, queue=queue: _send(ids, queue))
    held_partners = list(Order.objects.filter(dispatch_state=DispatchState.HELD).order_by()
                         .values_list("partner_id", flat=True).distinct())
    recovered = [pk for pk, level in _levels(held_partners).items() if level not in HELD_STANDINGS]
    if recovered:
        Order.objects.filter(partner_id__in=recovered, dispatch_state=DispatchState.HELD).update(
            dispatch_state=DispatchState.WAITING)
    dispatch_pending()
    return len(stale)
