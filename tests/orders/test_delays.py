"""Processing delays: per order, medians and 95th percentiles per plan and standing, breaches of
each plan's target, a partner's own figures and the staff dashboard."""

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from bigstock import settings as bigstock_settings
from orders import selectors
from orders.models import DispatchState, Order, Status
from subscriptions.models import Standing, Subscription
from tests.factories import (
    MembershipFactory,
    PlanFactory,
    UserFactory,
    WarehouseFactory,
    make_product,
    submit,
)

pytestmark = pytest.mark.django_db

NOW = timezone.now()


@pytest.fixture(autouse=True)
def stock():
    make_product("TEA-1", stock={WarehouseFactory(code="lyon"): 1000})


def subscribed(code):
    partner = MembershipFactory().partner
    today = timezone.localdate()
    Subscription.objects.create(partner=partner, plan=PlanFactory(code=code, name_en=code.title()), status="active",
                                started_on=today, current_period_start=today,
                                current_period_end=today + dt.timedelta(days=30))
    return partner


def order(partner, *, ago, checked_after=None, shipped_after=None, queue="priority", **fields):
    """An order submitted ``ago`` before NOW, checked / shipped that long after its submission."""
    created = submit(partner, ("TEA-1", 1))
    submitted_at = NOW - ago
    Order.objects.filter(pk=created.pk).update(
        submitted_at=submitted_at, queue=queue,
        checked_at=submitted_at + checked_after if checked_after is not None else None,
        shipped_at=submitted_at + shipped_after if shipped_after is not None else None, **fields)
    return Order.objects.get(pk=created.pk)


def seconds(n):
    return dt.timedelta(seconds=n)


@pytest.fixture
def history():
    """Two plans, two standings: ``essentiel`` served as active, ``pro`` as grace (the standard queue)."""
    essentiel, pro = subscribed("essentiel"), subscribed("pro")
    for n in (60, 120, 180, 240):
        order(essentiel, ago=dt.timedelta(hours=2), checked_after=seconds(n), shipped_after=dt.timedelta(hours=n / 6))
    order(essentiel, ago=dt.timedelta(days=3), checked_after=seconds(3600))
    for n in (10, 20):
        order(pro, ago=dt.timedelta(hours=1), checked_after=seconds(n), queue="standard")
    order(pro, ago=dt.timedelta(days=10), checked_after=seconds(99_999))  # outside both windows
    return essentiel, pro


def test_percentile_interpolates_between_ranks_like_percentile_cont():
    assert selectors.percentile([], 0.5) is None
    assert selectors.percentile([4.0], 0.95) == 4.0
    assert selectors.percentile([1.0, 2.0, 3.0, 4.0], 0.5) == 2.5
    assert selectors.percentile([float(n) for n in range(1, 101)], 0.95) == pytest.approx(95.05)


def test_each_order_knows_its_delays():
    placed = order(subscribed("essentiel"), ago=dt.timedelta(hours=1), checked_after=seconds(42))
    assert selectors.order_delays(placed) == {"checked": 42.0, "shipped": None}


def rows(figures, grouping):
    return {row.key: row for row in figures[grouping]}


def test_medians_and_95th_percentiles_per_plan_over_the_day_and_the_week(history):
    day = rows(selectors.delay_percentiles(since=NOW - dt.timedelta(days=1), until=NOW), "plan")
    assert day["essentiel"].checked == selectors.Stats(4, 150.0, pytest.approx(231.0))
    assert day["essentiel"].shipped.count == 4 and day["essentiel"].shipped.median_s == pytest.approx(150 * 600)
    assert day["pro"].checked == selectors.Stats(2, 15.0, pytest.approx(19.5))
    assert day["pro"].shipped == selectors.Stats(0, None, None)
    assert day["pro"].label == "Pro"

    week = rows(selectors.delay_percentiles(since=NOW - dt.timedelta(days=7), until=NOW), "plan")
    assert week["essentiel"].checked.count == 5 and week["essentiel"].checked.median_s == 180.0
    assert week["pro"].checked.count == 2


def test_per_standing_an_order_counts_under_the_queue_it_was_served_in(history):
    _essentiel, pro = history
    Standing.objects.update_or_create(partner=pro, defaults={"level": Standing.Level.SUSPENDED})
    never_queued = order(pro, ago=dt.timedelta(hours=3), queue="")
    Order.objects.filter(pk=never_queued.pk).update(dispatch_state=DispatchState.HELD)
    day = rows(selectors.delay_percentiles(since=NOW - dt.timedelta(days=1), until=NOW), "standing")
    assert day["active"].checked.count == 4 and day["grace"].checked.count == 2
    assert day["suspended"].checked.count == 0  # held: submitted, not checked


@pytest.mark.skipif(connection.vendor != "postgresql", reason="percentile_cont is PostgreSQL's")
def test_postgresql_and_python_compute_the_same_figures(history):
    for window in (dt.timedelta(days=1), dt.timedelta(days=7)):
        in_db = selectors.delay_percentiles(since=NOW - window, until=NOW, in_database=True)
        in_python = selectors.delay_percentiles(since=NOW - window, until=NOW, in_database=False)
        for grouping in ("plan", "standing"):
            for key, row in rows(in_db, grouping).items():
                other = rows(in_python, grouping)[key]
                for metric in ("checked", "shipped"):
                    a, b = getattr(row, metric), getattr(other, metric)
                    assert a.count == b.count
                    assert a.median_s == pytest.approx(b.median_s) and a.p95_s == pytest.approx(b.p95_s)


def test_orders_over_their_plans_target_are_listed_done_or_still_waiting(settings):
    settings.BIGSTOCK_CHECK_TARGET_MINUTES = {"default": 10, "pro": 1}
    settings.BIGSTOCK_SHIP_TARGET_HOURS = {"default": 48}
    essentiel, pro = subscribed("essentiel"), subscribed("pro")
    late_pro = order(pro, ago=dt.timedelta(hours=1), checked_after=seconds(90))
    order(essentiel, ago=dt.timedelta(hours=1), checked_after=seconds(90))  # within the default 10 min
    stuck = order(essentiel, ago=dt.timedelta(minutes=20))  # submitted, never checked
    waiting_for_standing = order(essentiel, ago=dt.timedelta(minutes=20), dispatch_state=DispatchState.HELD)
    on_hold = order(essentiel, ago=dt.timedelta(minutes=20), status=Status.ON_HOLD, checked_after=seconds(5))
    unshipped = order(essentiel, ago=dt.timedelta(days=3), checked_after=seconds(5), status=Status.PACKED)

    breaches = {(b.order.pk, b.metric): b for b in selectors.breaching_orders(since=NOW - dt.timedelta(days=7),
                                                                              now=NOW)}
    assert set(breaches) == {(late_pro.pk, "checked"), (stuck.pk, "checked"), (unshipped.pk, "shipped")}
    assert breaches[(late_pro.pk, "checked")].done and breaches[(late_pro.pk, "checked")].target_s == 60
    assert not breaches[(stuck.pk, "checked")].done
    assert breaches[(unshipped.pk, "shipped")].target_s == 48 * 3600
    assert waiting_for_standing.pk not in {pk for pk, _m in breaches} and on_hold.pk not in {pk for pk, _m in breaches}


def test_a_plan_specific_target_changes_which_orders_are_listed_as_breaching(settings):
    essentiel, pro = subscribed("essentiel"), subscribed("pro")
    pro_order = order(pro, ago=dt.timedelta(hours=1), checked_after=dt.timedelta(minutes=5))
    essentiel_order = order(essentiel, ago=dt.timedelta(hours=1), checked_after=dt.timedelta(minutes=5))

    def breaching():
        return {b.order.pk for b in selectors.breaching_orders(since=NOW - dt.timedelta(days=7), now=NOW)}

    settings.BIGSTOCK_CHECK_TARGET_MINUTES = {"default": 10}
    assert breaching() == set()
    settings.BIGSTOCK_CHECK_TARGET_MINUTES = {"default": 10, "pro": 3}
    assert breaching() == {pro_order.pk}
    settings.BIGSTOCK_CHECK_TARGET_MINUTES = {"default": 3, "pro": 10}
    assert breaching() == {essentiel_order.pk}


@pytest.mark.parametrize(("raw", "expected"), [
    ("", {"default": 10}),
    ('{"default": 10, "pro": 5}', {"default": 10, "pro": 5}),
    ('{"pro": 2.5}', {"default": 10, "pro": 2.5}),  # plans not named keep the default
])
def test_delay_targets_are_read_from_a_json_object_per_plan(monkeypatch, raw, expected):
    monkeypatch.setenv("BIGSTOCK_CHECK_TARGET_MINUTES", raw)
    assert bigstock_settings._targets_per_plan("BIGSTOCK_CHECK_TARGET_MINUTES", {"default": 10}) == expected


@pytest.mark.parametrize("raw", ["10", "{default: 10}", "{}", '{"default": "10"}', '{"default": 0}',
                                 '{"default": true}', '{"default": NaN}', '["default", 10]'])
def test_malformed_delay_targets_are_refused_naming_the_variable(monkeypatch, raw):
    monkeypatch.setenv("BIGSTOCK_SHIP_TARGET_HOURS", raw)
    with pytest.raises(ImproperlyConfigured, match="BIGSTOCK_SHIP_TARGET_HOURS must be a JSON object"):
        bigstock_settings._targets_per_plan("BIGSTOCK_SHIP_TARGET_HOURS", {"default": 48})


def test_a_malformed_delay_target_stops_start_up_naming_it():
    root = Path(__file__).resolve().parents[2]
    environment = {key: value for key, value in os.environ.items() if key != "DJANGO_SETTINGS_MODULE"}
    result = subprocess.run([sys.executable, "manage.py", "check"], cwd=root, capture_output=True, text=True,
                            timeout=120, env={**environment, "DEBUG": "1", "BIGSTOCK_CHECK_TARGET_MINUTES": "ten"})
    assert result.returncode != 0
    assert "The environment variable BIGSTOCK_CHECK_TARGET_MINUTES must be a JSON object" in result.stderr


def test_a_partner_sees_only_its_own_figures_and_its_plans_targets(history, settings):
    settings.BIGSTOCK_CHECK_TARGET_MINUTES = {"default": 10, "pro": 2}
    _essentiel, pro = history
    figures = selectors.partner_delays(pro, now=NOW)
    assert figures["windows"]["day"]["checked"] == selectors.Stats(2, 15.0, pytest.approx(19.5))
    assert figures["windows"]["week"]["checked"].count == 2
    assert figures["windows"]["day"]["shipped"].count == 0
    assert figures["check_target"] == dt.timedelta(minutes=2)
    assert figures["breaches"] == []


def test_the_staff_dashboard_shows_figures_per_plan_and_standing_a_chart_and_breaches(client, history):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    essentiel, _pro = history
    stuck = order(essentiel, ago=dt.timedelta(minutes=30))
    response = client.get(reverse("admin:orders_delays"))
    body = response.content.decode()
    assert response.status_code == 200
    assert 'id="day-plan"' in body and 'id="week-standing"' in body
    assert 'data-group="essentiel"' in body and 'data-group="grace"' in body
    assert "2 min" in body  # the median of 150 s
    assert 'class="delay-bar"' in body and "width: 100.0%" in body
    assert f'data-order="{stuck.public_id}"' in body and "(still waiting)" in body


def test_the_dashboard_reads_a_fixed_number_of_queries(client, history, django_assert_max_num_queries):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    essentiel, _pro = history
    for _ in range(20):
        order(essentiel, ago=dt.timedelta(minutes=30))
    with django_assert_max_num_queries(20):
        assert client.get(reverse("admin:orders_delays")).status_code == 200


def portal(partner, language="en") -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE=language)
    client.force_login(partner.memberships.first().user)
    return client


def test_the_orders_list_shows_the_partners_own_processing_times_in_plain_words(history, settings):
    settings.BIGSTOCK_CHECK_TARGET_MINUTES = {"default": 10, "pro": 2}
    essentiel, pro = history
    page = portal(pro).get(reverse("orders:list")).content.decode()
    assert "Your processing times" in page
    assert "Checks done (target: 2 min)" in page and "Shipped (target: 48.0 h)" in page
    assert "Half of the 2 orders within 15 s, 19 in 20 within 20 s." in page  # its own day and week
    assert page.count("None yet in this period.") == 2  # nothing shipped yet
    assert "Half of the 4 orders" not in page and "Half of the 5 orders" not in page  # essentiel's
    assert "longer than" not in page

    newcomer = portal(MembershipFactory().partner).get(reverse("orders:list")).content.decode()
    assert "No orders yet." in newcomer and "Your processing times" not in newcomer

    theirs = portal(essentiel).get(reverse("orders:list")).content.decode()
    assert "Checks done (target: 10 min)" in theirs and "Half of the 4 orders within 2 min" in theirs
    assert "Half of the 2 orders" not in theirs

    french = portal(pro, "fr").get(reverse("orders:list")).content.decode()
    assert "Vos délais de traitement" in french and "Vérifications terminées (objectif : 2 min)" in french
    assert "La moitié des 2 commandes en 15 s au plus, 19 sur 20 en 20 s au plus." in french


def test_the_orders_list_says_when_orders_took_longer_than_the_plans_target(history, settings):
    settings.BIGSTOCK_CHECK_TARGET_MINUTES = {"default": 10, "pro": 0.25}  # 15 s: the 20 s order is late
    _essentiel, pro = history
    page = portal(pro).get(reverse("orders:list")).content.decode()
    assert "Some took longer than the target." in page
    assert "Over the last 7 days, 1 order took, or is taking, longer than its target." in page
    french = portal(pro, "fr").get(reverse("orders:list")).content.decode()
    assert "Sur les 7 derniers jours, 1 commande a dépassé, ou dépasse, son objectif." in french
