"""The move of legacy partners to paid plans.

A legacy partner is an active or pending partner without a subscription. Each active
``TransitionCampaign`` tells them in advance (an announcement, then reminders 30, 7 and 1
days before the date), offers its coupon, and on the date their standing becomes
``inactive`` until they subscribe. Every message is recorded once (``CampaignNotice``).
"""

import datetime as dt

from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef

from partners.models import Partner

from . import emails, periods, standing
from .models import CampaignNotice, Subscription, TransitionCampaign

REMINDERS = [(CampaignNotice.Kind.D30, 30), (CampaignNotice.Kind.D7, 7), (CampaignNotice.Kind.D1, 1)]


def legacy_partners():
    current = Subscription.objects.filter(partner=OuterRef("pk")).exclude(status=Subscription.Status.CANCELED)
    return Partner.objects.filter(status__in=[Partner.Status.ACTIVE, Partner.Status.PENDING]).exclude(Exists(current))


def active_campaign() -> TransitionCampaign | None:
    return TransitionCampaign.objects.filter(is_active=True).select_related("coupon").first()


def notice_due(*, campaign: TransitionCampaign, today: dt.date, sent: set[str]) -> str | None:
    """The one notice to send today: the announcement first, then only the latest reminder due."""
    days_left = (campaign.transition_date - today).days
    if days_left < 0:
        return None
    if CampaignNotice.Kind.ANNOUNCEMENT not in sent:
        return CampaignNotice.Kind.ANNOUNCEMENT
    due = [kind for kind, offset in REMINDERS if days_left <= offset]
    return due[-1] if due and due[-1] not in sent else None


def notify_partner(*, campaign: TransitionCampaign, partner: Partner, today: dt.date) -> str | None:
    """Send this partner the notice due today, once. Returns its kind, or None."""
    sent = set(CampaignNotice.objects.filter(campaign=campaign, partner=partner).values_list("kind", flat=True))
    kind = notice_due(campaign=campaign, today=today, sent=sent)
    if kind is None:
        return None
    try:
        with transaction.atomic():
            CampaignNotice.objects.create(campaign=campaign, partner=partner, kind=kind)
            transaction.on_commit(lambda: emails.send_transition_notice(
                campaign_id=campaign.pk, partner_id=partner.pk, kind=kind))
    except IntegrityError:  # a concurrent run sent it
        return None
    return kind


def run(*, today: dt.date | None = None) -> dict[str, int]:
    """Daily: notices due, and on or after the date, standings refreshed for those still undecided."""
    today = today or periods.today()
    campaign = active_campaign()
    counts = {"notified": 0, "refreshed": 0}
    if campaign is None:
        return counts
    for partner in legacy_partners().iterator():
        if notify_partner(campaign=campaign, partner=partner, today=today):
            counts["notified"] += 1
        if today >= campaign.transition_date:
            standing.refresh(partner=partner, today=today)
            counts["refreshed"] += 1
    return counts


def progress(*, campaign: TransitionCampaign) -> dict[str, int]:
    """For staff: how many partners were told, have subscribed, are still undecided."""
    notified_ids = set(CampaignNotice.objects.filter(campaign=campaign).values_list("partner_id", flat=True))
    subscribed_ids = set(
        Subscription.objects.filter(partner_id__in=notified_ids).exclude(status=Subscription.Status.CANCELED)
        .values_list("partner_id", flat=True)
    )
    return {
        "notified": len(notified_ids),
        "subscribed": len(subscribed_ids),
        "undecided": legacy_partners().count(),
    }
