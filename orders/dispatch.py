"""The dispatcher: hands submitted orders to workers by standing, fairly between partners.

* ``active`` partners' orders go to the ``priority`` queue, ``grace`` to ``standard``;
  ``inactive`` and ``suspended`` partners' orders are held (``DispatchState.HELD``) until
  their standing recovers (``subscriptions.signals.standing_changed``).
* Only ``BIGSTOCK_ORDER_QUEUE_DEPTH`` orders per queue are in the broker at once; the rest
  wait in the database. Each time there is room, partners are served in weighted round
  robin (weight = their plan's priority weight), oldest order first within a partner, so a
  partner's burst of thousands cannot delay another partner's single order.
* The database is the record of what waits: a broker that is down loses nothing; the sweep
  (beat) re-dispatches queued orders whose task never ran.
"""

import datetime as dt
import logging
from collections import defaultdict

from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import Count
from django.utils import timezone

from subscriptions.models import Standing, Subscription

from .models import DispatchState, Order, Status

logger = logging.getLogger(__name__)

QUEUE_FOR_STANDING = {Standing.Level.ACTIVE: "priority", Standing.Level.GRACE: "standard"}
HELD_STANDINGS = (Standing.Level.INACTIVE, Standing.Level.SUSPENDED)
STALE_AFTER = dt.timedelta(minutes=5)


def kick() -> None:
    """Ask for a dispatch soon (at most one request per half second per cache)."""
    from . import tasks

    if cache.add("orders:dispatch-requested", 1, timeout=0.5):
        try:
            tasks.dispatch_orders.delay()
        except Exception:  # broker down: the beat sweep dispatches; the orders are safe in the database
            logger.warning("dispatch request not queued (broker unreachable)", exc_info=True)


def _levels(partner_ids) -> dict[int, str]:
    stored = dict(Standing.objects.filter(partner_id__in=partner_ids).values_list("partner_id", "level"))
    return {pk: stored.get(pk, Standing.Level.ACTIVE) for pk in partner_ids}


def _weights(partner_ids) -> dict[int, int]:
    weights = dict(
        Subscription.objects.filter(partner_id__in=partner_ids).exclude(status=Subscription.Status.CANCELED)
        .values_list("partner_id", "plan__priority_weight")
    )
    return {pk: max(1, weights.get(pk, 1)) for pk in partner_ids}


def _round_robin(candidates: dict[int, list[int]], weights: dict[int, int], capacity: int) -> list[int]:
    """Take up to ``capacity`` order ids, ``weight`` per partner per round, partners in the given order."""
    chosen: list[int] = []
    queues = {partner: list(ids) for partner, ids in candidates.items()}
    while len(chosen) < capacity and any(queues.values()):
        for partner, ids in queues.items():
            take = ids[: weights[partner]]
            del ids[: weights[partner]]
            chosen.extend(take)
            if len(chosen) >= capacity:
                break
    return chosen[:capacity]


@transaction.atomic
def dispatch_pending() -> dict[str, int]:
    """Hold what must wait for standing, then fill each queue up to its depth, fairly."""
    waiting = Order.objects.filter(dispatch_state=DispatchState.WAITING, status=Status.SUBMITTED)
    partner_ids = list(waiting.values_list("partner_id", flat=True).distinct())
    if not partner_ids:
        return {}
    levels = _levels(partner_ids)
    held = [pk for pk, level in levels.items() if level in HELD_STANDINGS]
    if held:
        waiting.filter(partner_id__in=held).update(dispatch_state=DispatchState.HELD)
    in_flight = dict(Order.objects.filter(dispatch_state=DispatchState.QUEUED).values_list("queue")
                     .annotate(n=Count("pk")).values_list("queue", "n"))
    weights = _weights(partner_ids)
    sent: dict[str, int] = {}
    depth = settings.BIGSTOCK_ORDER_QUEUE_DEPTH
    for level, queue in QUEUE_FOR_STANDING.items():
        capacity = depth - in_flight.get(queue, 0)
        partners = [pk for pk, partner_level in levels.items() if partner_level == level]
        if capacity <= 0 or not partners:
            continue
        candidates: dict[int, list[int]] = defaultdict(list)
        rows = (waiting.filter(partner_id__in=partners).order_by("created_at", "pk")
                .values_list("partner_id", "pk", "created_at"))
        # Oldest first within a partner; partners ordered by their oldest waiting order.
        for partner_id, order_id, _created in _first_per_partner(rows, capacity):
            candidates[partner_id].append(order_id)
        chosen = _round_robin(candidates, weights, capacity)
        locked = Order.objects.filter(pk__in=chosen, dispatch_state=DispatchState.WAITING)
        if connection.features.has_select_for_update_skip_locked:
            locked = locked.select_for_update(skip_locked=True)
        ids = list(locked.values_list("pk", flat=True))
        Order.objects.filter(pk__in=ids).update(dispatch_state=DispatchState.QUEUED, queue=queue,
                                                dispatched_at=timezone.now())
        transaction.on_commit(lambda ids=ids, queue=queue: _send(ids, queue))
        sent[queue] = len(ids)
    return sent


def _first_per_partner(rows, per_partner: int):
    """At most ``per_partner`` rows per partner from rows ordered oldest first (one pass, no N+1)."""
    counts: dict[int, int] = defaultdict(int)
    for partner_id, order_id, created in rows.iterator(chunk_size=2000):
        if counts[partner_id] < per_partner:
            counts[partner_id] += 1
            yield partner_id, order_id, created


def _send(order_ids: list[int], queue: str) -> None:
    from . import tasks

    for order_id in order_ids:
        tasks.process_order.apply_async((order_id,), queue=queue)


@transaction.atomic
def release_held(*, partner_id: int) -> int:
    """The partner's standing recovered: its held orders wait for a worker again."""
    count = Order.objects.filter(partner_id=partner_id, dispatch_state=DispatchState.HELD).update(
        dispatch_state=DispatchState.WAITING)
    if count:
        transaction.on_commit(kick)
    return count


@transaction.atomic
def sweep() -> int:
    """Re-send orders queued long ago whose task never ran (a broker lost it), then dispatch."""
    stale = list(Order.objects.filter(dispatch_state=DispatchState.QUEUED,
                                      dispatched_at__lt=timezone.now() - STALE_AFTER).values_list("pk", "queue"))
    by_queue: dict[str, list[int]] = defaultdict(list)
    for order_id, queue in stale:
        by_queue[queue].append(order_id)
    Order.objects.filter(pk__in=[pk for pk, _q in stale]).update(dispatched_at=timezone.now())
    for queue, ids in by_queue.items():
        transaction.on_commit(lambda ids=ids, queue=queue: _send(ids, queue))
    dispatch_pending()
    return len(stale)
