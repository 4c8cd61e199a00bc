import datetime as dt
from decimal import Decimal

import pytest
from django.core import mail
from django.utils import translation

from partners.audit import SYSTEM
from partners.models import Partner
from subscriptions import campaign, services, standing
from subscriptions.models import CampaignNotice, Coupon, Invoice, Subscription, TransitionCampaign
from tests.factories import MembershipFactory, PartnerFactory, PlanFactory

pytestmark = pytest.mark.django_db

DATE = dt.date(2027, 1, 1)


@pytest.fixture
def offer():
    return Coupon.objects.create(code="BIENVENUE", name="Bienvenue -50 %", percent_off=Decimal("50"),
                                 duration_months=2, max_redemptions=2)


@pytest.fixture
def move(offer, settings):
    settings.BIGSTOCK_TRANSITION_DATE = DATE
    return TransitionCampaign.objects.create(name="Passage aux formules", transition_date=DATE, coupon=offer)


def run(day):
    return campaign.run(today=day)


def test_legacy_partners_are_told_once_then_reminded_at_d30_d7_d1(move, django_capture_on_commit_callbacks):
    legacy = MembershipFactory().partner
    with django_capture_on_commit_callbacks(execute=True):
        run(dt.date(2026, 11, 1))
        run(dt.date(2026, 11, 2))  # nothing new
        run(dt.date(2026, 12, 2))  # D-30
        run(dt.date(2026, 12, 20))  # nothing new
        run(dt.date(2026, 12, 26))  # D-6: the D-7 reminder, late but once
        run(dt.date(2026, 12, 31))  # D-1
    kinds = list(CampaignNotice.objects.filter(partner=legacy).order_by("sent_at", "pk").values_list("kind", flat=True))
    assert kinds == ["announcement", "d30", "d7", "d1"]
    assert len(mail.outbox) == 4
    assert "BIENVENUE" in mail.outbox[0].body and "/billing/" in mail.outbox[0].body


def test_subscribed_and_closed_partners_are_not_told(move, offer):
    subscribed = MembershipFactory().partner
    services.subscribe(partner=subscribed, plan=PlanFactory(), actor=SYSTEM, today=dt.date(2026, 10, 1))
    PartnerFactory(status=Partner.Status.CLOSED)
    legacy = PartnerFactory()
    run(dt.date(2026, 11, 1))
    assert list(CampaignNotice.objects.values_list("partner", flat=True)) == [legacy.pk]
    assert campaign.progress(campaign=move) == {"notified": 1, "subscribed": 0, "undecided": 1}


def test_on_the_date_undecided_partners_become_inactive_until_they_subscribe(move, offer):
    legacy = MembershipFactory().partner
    run(dt.date(2026, 12, 31))
    assert standing.evaluate(partner=legacy, today=dt.date(2026, 12, 31))[0] == "active"
    run(DATE)
    assert legacy.standing.level == "inactive"
    services.subscribe(partner=legacy, plan=PlanFactory(), actor=SYSTEM, coupon_code="bienvenue", today=DATE)
    legacy.standing.refresh_from_db()
    assert legacy.standing.level == "active"
    assert campaign.progress(campaign=move)["subscribed"] == 1


def test_the_offer_discounts_the_first_invoices_only(offer):
    partner = MembershipFactory().partner
    plan = PlanFactory(price_cents=9900)
    subscription = services.subscribe(partner=partner, plan=plan, actor=SYSTEM, coupon_code="BIENVENUE",
                                      today=dt.date(2027, 1, 1))
    services.invoice_next_period(subscription_id=subscription.pk, period_start=dt.date(2027, 2, 1))
    services.invoice_next_period(subscription_id=subscription.pk, period_start=dt.date(2027, 3, 1))
    subtotals = list(Invoice.objects.filter(subscription=subscription).order_by("period_start")
                     .values_list("subtotal_cents", flat=True))
    assert subtotals == [4950, 4950, 9900]


def test_an_offer_restricted_to_other_plans_or_used_up_is_refused_with_the_reason(offer):
    pro = PlanFactory(code="pro")
    offer.plans.add(PlanFactory(code="entreprise"))
    with pytest.raises(services.InvalidCoupon, match="does not apply to"):
        services.subscribe(partner=MembershipFactory().partner, plan=pro, actor=SYSTEM, coupon_code="BIENVENUE")
    offer.plans.clear()
    for _ in range(2):
        services.subscribe(partner=MembershipFactory().partner, plan=pro, actor=SYSTEM, coupon_code="BIENVENUE")
    late = MembershipFactory().partner
    with pytest.raises(services.InvalidCoupon, match="fully used"):
        services.subscribe(partner=late, plan=pro, actor=SYSTEM, coupon_code="BIENVENUE")
    assert not Subscription.objects.filter(partner=late).exists()


def test_an_offer_past_its_date_is_refused_with_the_date_in_the_readers_language(offer):
    offer.redeem_by = dt.date(2026, 1, 31)
    offer.save()
    for language, date in [("en", "Jan. 31, 2026"), ("fr", "31 janvier 2026")]:
        with translation.override(language), pytest.raises(services.InvalidCoupon) as refused:
            services.find_coupon(code="BIENVENUE", plan=PlanFactory(), today=dt.date(2026, 2, 1))
        assert date in refused.value.message


def test_legacy_partners_see_the_banner_with_the_offer_until_they_subscribe(client, move):
    owner = MembershipFactory()
    PlanFactory(name_en="Pro", price_cents=9900)
    client.force_login(owner.user)
    html = client.get("/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "BigStock moves every partner to a monthly plan" in html
    assert "/billing/?offer=BIENVENUE" in html
    services.subscribe(partner=owner.partner, plan=PlanFactory(), actor=SYSTEM)
    assert "BigStock moves every partner" not in client.get("/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
