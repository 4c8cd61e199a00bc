"""Demo billing for `make run`: three plans, an introductory offer, the transition campaign,
and demo partners with paid, overdue and missing subscriptions. Idempotent."""

import datetime as dt
from decimal import Decimal

from django.conf import settings

from partners.audit import SYSTEM
from partners.models import Partner

from . import dunning, periods, services
from .models import Coupon, Invoice, Plan, TransitionCampaign

PLANS = [
    dict(code="essentiel", name_fr="Essentiel", name_en="Essential", price_cents=4900, included_orders=100,
         team_seats=2, api_rate_per_min=60, wholesale_discount=Decimal("0"), support_first_response_hours=24,
         support_resolution_hours=72, priority_weight=1,
         description_fr="Pour démarrer : catalogue, stock en temps réel, commandes et suivi.",
         description_en="To get started: catalogue, live stock, orders and tracking."),
    dict(code="pro", name_fr="Pro", name_en="Pro", price_cents=9900, included_orders=500, team_seats=5,
         api_rate_per_min=300, wholesale_discount=Decimal("0.030"), support_first_response_hours=8,
         support_resolution_hours=48, priority_weight=2,
         description_fr="Pour les boutiques qui vendent chaque jour : remise de 3 %, support prioritaire.",
         description_en="For shops that sell every day: 3 % off wholesale, priority support."),
    dict(code="entreprise", name_fr="Entreprise", name_en="Enterprise", price_cents=24900, included_orders=2000,
         team_seats=20, api_rate_per_min=1200, wholesale_discount=Decimal("0.060"), support_first_response_hours=4,
         support_resolution_hours=24, priority_weight=4,
         description_fr="Volumes importants : remise de 6 %, file la plus prioritaire, support en 4 h.",
         description_en="High volumes: 6 % off wholesale, top queue priority, 4-hour support."),
]


def _months_ago(today: dt.date, months: int) -> dt.date:
    day = periods.month_start(today)
    for _ in range(months):
        day = periods.month_start(day - dt.timedelta(days=1))
    return day


def _history(*, today: dt.date, accounts: list[tuple[Partner, Plan, int, int]]) -> None:
    """Replay months of billing in date order, so invoice numbers stay chronological.

    ``accounts``: (partner, plan, months ago it subscribed, unpaid invoices at the end).
    """
    starts = {partner.pk: _months_ago(today, months) for partner, _plan, months, _unpaid in accounts}
    day = min(starts.values())
    subscriptions = {}
    while day <= today:
        for partner, plan, _months, _unpaid in accounts:
            if starts[partner.pk] == day:
                subscriptions[partner.pk] = services.subscribe(partner=partner, plan=plan, actor=SYSTEM, today=day)
            elif partner.pk in subscriptions:
                services.invoice_next_period(subscription_id=subscriptions[partner.pk].pk, period_start=day, today=day)
        day = periods.next_month_start(day)
    for partner, _plan, _months, unpaid in accounts:
        invoices = list(Invoice.objects.for_partner(partner).order_by("period_start"))
        for invoice in invoices[: len(invoices) - unpaid]:
            services.record_payment(invoice=invoice, amount_cents=invoice.total_cents, received_on=invoice.issue_date,
                                    reference=f"DEMO-{invoice.number}", actor=SYSTEM)


def load() -> list[str]:
    plans = {}
    for values in PLANS:
        plan, _created = Plan.objects.get_or_create(code=values["code"], version=1, defaults=values)
        plans[plan.code] = plan
    coupon, _created = Coupon.objects.get_or_create(
        code="BIENVENUE", defaults={"name": "Bienvenue -50 %", "percent_off": Decimal("50"), "duration_months": 3})
    TransitionCampaign.objects.get_or_create(
        name="Passage aux formules mensuelles",
        defaults={"transition_date": settings.BIGSTOCK_TRANSITION_DATE, "coupon": coupon})

    today = periods.today()
    durand = Partner.objects.filter(legal_name="Maison Durand SARL").first()
    lumiere = Partner.objects.filter(legal_name="Atelier Lumière SAS").first()
    if durand and lumiere and not Invoice.objects.for_partner(durand).exists():
        # Durand pays everything; Lumière's invoice of this month is unpaid. Billing is replayed
        # up to 20 days ago, so that invoice is already overdue: Lumière is in its grace period.
        _history(today=today - dt.timedelta(days=20),
                 accounts=[(durand, plans["pro"], 3, 0), (lumiere, plans["essentiel"], 2, 1)])
        for invoice_id in dunning.overdue_invoice_ids(today=today):
            dunning.process_overdue_invoice(invoice_id=invoice_id, today=today)
    return [f"billing: plans {', '.join(plans)}; offer code {coupon.code}; "
            f"transition on {settings.BIGSTOCK_TRANSITION_DATE:%d/%m/%Y}"]
