import datetime as dt

import pytest
import time_machine
from django.core import mail

from orders import usage
from partners.audit import SYSTEM
from subscriptions import growth
from subscriptions import services as billing
from subscriptions.models import MonthlyUsage, TransitionCampaign, UpgradeSuggestion
from tests.factories import MembershipFactory, PlanFactory, WarehouseFactory, make_product, submit

pytestmark = pytest.mark.django_db


@pytest.fixture
def plans():
    return (PlanFactory(code="small", included_orders=2, price_cents=4900, name_en="Small"),
            PlanFactory(code="big", included_orders=10, price_cents=9900, name_en="Big"))


def orders_in(partner, month: dt.datetime, count: int):
    with time_machine.travel(month, tick=False):
        for _ in range(count):
            submit(partner, ("TEA-1", 1))


def test_two_months_over_the_included_volume_suggest_the_plan_that_fits_once(plans, django_capture_on_commit_callbacks):
    small, big = plans
    make_product("TEA-1", stock={WarehouseFactory(code="lyon"): 100})
    partner = MembershipFactory().partner
    billing.subscribe(partner=partner, plan=small, actor=SYSTEM, today=dt.date(2026, 8, 3))
    orders_in(partner, dt.datetime(2026, 9, 10, 9, tzinfo=dt.UTC), 3)
    usage.report_volumes(today=dt.date(2026, 10, 1))  # the daily run on the first of October
    orders_in(partner, dt.datetime(2026, 10, 10, 9, tzinfo=dt.UTC), 5)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        usage.report_volumes(today=dt.date(2026, 11, 1))
        usage.report_volumes(today=dt.date(2026, 11, 2))  # the next day: nothing new
    assert dict(MonthlyUsage.objects.values_list("month", "orders")) == {dt.date(2026, 9, 1): 3, dt.date(2026, 10, 1): 5}
    suggestion = UpgradeSuggestion.objects.get()
    assert (suggestion.suggested_plan, suggestion.volumes) == (big, [3, 5])
    assert len(mail.outbox) == 1 and "Big" in mail.outbox[0].body
    assert growth.current_suggestion(partner=partner) == suggestion
    billing.change_plan(subscription=billing.current_subscription(partner), plan=big, actor=SYSTEM,
                        today=dt.date(2026, 11, 3))
    assert growth.current_suggestion(partner=partner) is None


def test_one_month_over_is_not_enough(plans):
    small, _big = plans
    make_product("TEA-1", stock={WarehouseFactory(code="lyon"): 100})
    partner = MembershipFactory().partner
    billing.subscribe(partner=partner, plan=small, actor=SYSTEM, today=dt.date(2026, 8, 3))
    orders_in(partner, dt.datetime(2026, 9, 10, 9, tzinfo=dt.UTC), 1)
    usage.report_volumes(today=dt.date(2026, 10, 1))
    orders_in(partner, dt.datetime(2026, 10, 10, 9, tzinfo=dt.UTC), 6)
    usage.report_volumes(today=dt.date(2026, 11, 1))
    assert not UpgradeSuggestion.objects.exists()


def test_the_move_to_paid_banner_names_the_plan_that_fits_past_volume(client, plans, settings):
    settings.BIGSTOCK_TRANSITION_DATE = dt.date(2099, 1, 1)
    TransitionCampaign.objects.create(name="Move", transition_date=dt.date(2099, 1, 1))
    owner = MembershipFactory()
    growth.record_usage(partner=owner.partner, month=dt.date.today().replace(day=1) - dt.timedelta(days=1), orders=7)
    client.force_login(owner.user)
    html = client.get("/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "With your 7 orders last month, the Big plan fits you." in html
