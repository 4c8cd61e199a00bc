"""Standing: how a partner is served, and why. One function decides; ``refresh`` stores it.

* ``active``: subscription paid up (or, before the transition date, a legacy free partner);
* ``grace``: an invoice is overdue but within the grace period: still served;
* ``inactive``: no subscription after the transition date, a free partner dormant (no order in
  ``BIGSTOCK_DORMANT_AFTER_DAYS``), or waiting for a first payment;
* ``suspended``: unpaid past the grace period, or the account suspended or closed by staff.

Orders ask ``level_for`` for priority and holds; the API for limits; portal and admin show it.
"""

import datetime as dt

from django.conf import settings
from django.db import transaction
from django.utils import formats, timezone
from django.utils.translation import gettext as _

from bigstock import events, hotcache
from partners.models import Partner

from . import signals
from .models import MonthlyUsage, Standing, Subscription


def evaluate(*, partner: Partner, today: dt.date | None = None) -> tuple[str, str]:
    """(level, reason) for ``partner`` now. Pure: reads, never writes."""
    today = today or timezone.localdate()
    Level = Standing.Level
    if partner.status in (Partner.Status.SUSPENDED, Partner.Status.CLOSED):
        return Level.SUSPENDED, _("The account is %(status)s by BigStock.") % {"status": partner.get_status_display().lower()}
    subscription = (Subscription.objects.for_partner(partner).exclude(status=Subscription.Status.CANCELED)
                    .select_related("plan").first())
    transition = settings.BIGSTOCK_TRANSITION_DATE
    if subscription is None:
        if today < transition and _is_dormant(partner, today):
            return Level.INACTIVE, _("No order for %(days)d days: choose a plan to be served again.") % {
                "days": settings.BIGSTOCK_DORMANT_AFTER_DAYS}
        if today < transition:
            return Level.ACTIVE, _("Free access until %(date)s; choose a plan before then.") % {
                "date": formats.date_format(transition)}
        return Level.INACTIVE, _("No subscription since %(date)s: orders are held and the API is read-only.") % {
            "date": formats.date_format(transition)}
    status = subscription.status
    if status == Subscription.Status.ACTIVE:
        return Level.ACTIVE, _("Subscription %(plan)s up to date.") % {"plan": subscription.plan.name}
    if status == Subscription.Status.PAST_DUE:
        return Level.GRACE, _("An invoice is overdue: service continues until %(date)s.") % {
            "date": formats.date_format(subscription.grace_until) if subscription.grace_until else "-"}
    if status == Subscription.Status.SUSPENDED:
        return Level.SUSPENDED, _("An invoice is unpaid past the grace period: pay it to restore service at once.")
    return Level.INACTIVE, _("The subscription is waiting for its first payment.")


def _is_dormant(partner: Partner, today: dt.date) -> bool:
    """A free (legacy) partner known for long enough that sent no order in the dormancy window
    (monthly volumes are reported by the orders app into ``MonthlyUsage``)."""
    window_start = today - dt.timedelta(days=settings.BIGSTOCK_DORMANT_AFTER_DAYS)
    if partner.created_at.date() > window_start:
        return False
    return not MonthlyUsage.objects.filter(partner=partner, month__gte=window_start.replace(day=1),
                                           orders__gt=0).exists()


def level_for(partner: Partner) -> str:
    """The stored level (kept current by ``refresh``); ``active`` for a partner never evaluated."""
    standing = Standing.objects.filter(partner=partner).only("level").first()
    return standing.level if standing else Standing.Level.ACTIVE


# The API checks the level on every write: kept a few seconds per process (bigstock.hotcache).
# Saving a Standing clears its entry here at once; other processes see it within seconds.
recent_levels = hotcache.HotCache("standing_levels")


def recent_level_for(partner: Partner) -> str:
    """``level_for``, at most BIGSTOCK_HOT_CACHE_SECONDS old: for per-request checks only. What
    must see the latest level (the dispatcher holding or releasing orders) calls ``level_for``."""
    return recent_levels.get_or_load(partner.pk, lambda: level_for(partner))


@transaction.atomic
def refresh(*, partner: Partner, today: dt.date | None = None) -> Standing:
    """Re-evaluate and store; publish ``standing.changed`` when the level moves."""
    level, reason = evaluate(partner=partner, today=today)
    standing, created = Standing.objects.select_for_update().get_or_create(
        partner=partner, defaults={"level": level, "reason": reason})
    if not created and (standing.level, standing.reason) != (level, reason):
        previous = standing.level
        standing.level, standing.reason = level, reason
        if previous != level:
            standing.changed_at = timezone.now()
            events.publish(partner=partner, type="standing.changed",
                           data={"standing": level, "previous": previous, "reason": reason})
            transaction.on_commit(lambda: signals.standing_changed.send(
                sender=Standing, partner_id=partner.pk, previous=previous, level=level))
        standing.save()
    return standing
