import datetime as dt
from decimal import Decimal

import pytest
from django.core import mail

from bigstock.models import PartnerEvent
from partners.audit import SYSTEM
from subscriptions import services, standing
from subscriptions.models import Invoice, Payment, Subscription
from tests.factories import MembershipFactory, PartnerFactory, PlanFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def partner():
    return MembershipFactory().partner


@pytest.fixture
def pro():
    return PlanFactory(code="pro", price_cents=9900, name_fr="Pro")


@pytest.fixture
def essentiel():
    return PlanFactory(code="essentiel", price_cents=4900, name_fr="Essentiel")


def subscribe(partner, plan, day):
    return services.subscribe(partner=partner, plan=plan, actor=SYSTEM, today=day)


def test_first_period_is_prorated_by_day_and_invoiced_at_once(partner, pro, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        subscription = subscribe(partner, pro, dt.date(2026, 4, 21))  # 10 of 30 days
    invoice = Invoice.objects.get(subscription=subscription)
    assert subscription.status == Subscription.Status.ACTIVE
    assert (subscription.current_period_start, subscription.current_period_end) == (dt.date(2026, 4, 21), dt.date(2026, 5, 1))
    assert invoice.number == "BS-2026-000001"
    assert invoice.subtotal_cents == 3300  # 9900 x 10 / 30
    assert invoice.vat_cents == 660 and invoice.total_cents == 3960
    assert invoice.due_date == dt.date(2026, 5, 6)
    assert invoice.buyer["siren"] == partner.siren
    assert invoice.seller["siren"]
    assert mail.outbox and "BS-2026-000001" in mail.outbox[0].subject
    assert PartnerEvent.objects.filter(partner=partner, type="invoice.finalized").count() == 1


def test_monthly_run_twice_for_the_same_period_bills_once(partner, pro, essentiel):
    other = MembershipFactory().partner
    subscribe(partner, pro, dt.date(2026, 4, 21))
    subscribe(other, essentiel, dt.date(2026, 4, 3))
    for _ in range(2):
        for subscription_id, period_start in services.due_subscription_ids(today=dt.date(2026, 5, 1)):
            services.invoice_next_period(subscription_id=subscription_id, period_start=period_start,
                                         today=dt.date(2026, 5, 1))
    may = Invoice.objects.filter(period_start=dt.date(2026, 5, 1))
    assert may.count() == 2
    assert sorted(may.values_list("subtotal_cents", flat=True)) == [4900, 9900]
    assert list(Invoice.objects.order_by("number").values_list("number", flat=True)) == [
        "BS-2026-000001", "BS-2026-000002", "BS-2026-000003", "BS-2026-000004"]


def test_a_run_stopped_half_way_and_restarted_bills_each_due_invoice_once(pro):
    partners = [MembershipFactory().partner for _ in range(6)]
    for p in partners:
        subscribe(p, pro, dt.date(2026, 6, 1))
    due = services.due_subscription_ids(today=dt.date(2026, 7, 1))
    for subscription_id, period_start in due[:3]:  # the worker dies after three
        services.invoice_next_period(subscription_id=subscription_id, period_start=period_start)
    for subscription_id, period_start in due:  # beat re-queues everything; the old tasks are redelivered too
        services.invoice_next_period(subscription_id=subscription_id, period_start=period_start)
    for subscription_id, period_start in services.due_subscription_ids(today=dt.date(2026, 7, 1)):
        services.invoice_next_period(subscription_id=subscription_id, period_start=period_start)
    assert Invoice.objects.filter(period_start=dt.date(2026, 7, 1)).count() == 6


def test_periods_follow_calendar_months_across_a_leap_february_and_the_dst_change(partner, pro):
    subscription = subscribe(partner, pro, dt.date(2028, 2, 15))  # 2028 is a leap year
    first = Invoice.objects.get(subscription=subscription)
    assert first.subtotal_cents == 5121  # 15 of 29 days: 9900 x 15 / 29 = 5120.69, half-up
    for day in [dt.date(2028, 3, 1), dt.date(2028, 4, 1)]:  # DST starts 26 March 2028 in Paris
        services.invoice_next_period(subscription_id=subscription.pk, period_start=day)
    subscription.refresh_from_db()
    assert (subscription.current_period_start, subscription.current_period_end) == (dt.date(2028, 4, 1), dt.date(2028, 5, 1))
    periods = list(Invoice.objects.filter(subscription=subscription).order_by("period_start")
                   .values_list("period_start", "period_end"))
    assert periods == [(dt.date(2028, 2, 15), dt.date(2028, 3, 1)), (dt.date(2028, 3, 1), dt.date(2028, 4, 1)),
                       (dt.date(2028, 4, 1), dt.date(2028, 5, 1))]


def test_year_change_starts_a_new_number_series(partner, pro):
    subscription = subscribe(partner, pro, dt.date(2026, 12, 10))
    invoice = services.invoice_next_period(subscription_id=subscription.pk, period_start=dt.date(2027, 1, 1),
                                           today=dt.date(2027, 1, 1))
    assert invoice.number == "BS-2027-000001"


def test_upgrade_applies_at_once_with_a_credit_and_a_debit_line(partner, essentiel, pro):
    subscription = subscribe(partner, essentiel, dt.date(2026, 9, 1))
    preview = services.preview_change(subscription=subscription, plan=pro, today=dt.date(2026, 9, 21))
    assert preview.immediate
    assert [line.unit_price_cents for line in preview.lines] == [-1633, 3300]  # 10/30 of 4900 and of 9900
    services.change_plan(subscription=subscription, plan=pro, actor=SYSTEM, today=dt.date(2026, 9, 21))
    subscription.refresh_from_db()
    assert subscription.plan == pro
    proration = Invoice.objects.get(subscription=subscription, kind=Invoice.Kind.PRORATION)
    assert proration.subtotal_cents == preview.subtotal_cents == 1667
    assert proration.total_cents == preview.total_cents == 2000


def test_downgrade_waits_for_the_end_of_the_period_and_can_be_undone(partner, essentiel, pro):
    subscription = subscribe(partner, pro, dt.date(2026, 9, 1))
    services.change_plan(subscription=subscription, plan=essentiel, actor=SYSTEM, today=dt.date(2026, 9, 10))
    subscription.refresh_from_db()
    assert subscription.plan == pro and subscription.scheduled_plan == essentiel
    services.undo_scheduled_change(subscription=subscription, actor=SYSTEM)
    services.change_plan(subscription=subscription, plan=essentiel, actor=SYSTEM, today=dt.date(2026, 9, 12))
    invoice = services.invoice_next_period(subscription_id=subscription.pk, period_start=dt.date(2026, 10, 1))
    subscription.refresh_from_db()
    assert subscription.plan == essentiel and subscription.scheduled_plan is None
    assert invoice.subtotal_cents == 4900


def test_cancellation_ends_the_subscription_at_the_period_end_and_can_be_resumed(partner, pro):
    subscription = subscribe(partner, pro, dt.date(2026, 9, 1))
    services.cancel_subscription(subscription=subscription, actor=SYSTEM)
    with pytest.raises(services.AlreadyCanceled):
        services.cancel_subscription(subscription=subscription, actor=SYSTEM)
    services.resume_subscription(subscription=subscription, actor=SYSTEM)
    services.cancel_subscription(subscription=subscription, actor=SYSTEM)
    assert services.invoice_next_period(subscription_id=subscription.pk, period_start=dt.date(2026, 10, 1)) is None
    subscription.refresh_from_db()
    assert subscription.status == Subscription.Status.CANCELED
    assert Invoice.objects.filter(subscription=subscription).count() == 1


def test_changing_to_the_same_or_an_archived_plan_is_refused_and_changes_nothing(partner, pro, essentiel):
    from django.utils import timezone

    subscription = subscribe(partner, pro, dt.date(2026, 9, 1))
    with pytest.raises(services.SamePlan):
        services.change_plan(subscription=subscription, plan=pro, actor=SYSTEM, today=dt.date(2026, 9, 5))
    essentiel.archived_at = timezone.now()
    essentiel.save()
    with pytest.raises(services.PlanUnavailable):
        services.change_plan(subscription=subscription, plan=essentiel, actor=SYSTEM, today=dt.date(2026, 9, 5))
    subscription.refresh_from_db()
    assert subscription.plan == pro and subscription.scheduled_plan is None
    assert Invoice.objects.count() == 1


@pytest.mark.parametrize(
    ("country", "vat_number", "rate", "mention"),
    [("FR", "", Decimal("0.20"), ""), ("BE", "BE0403170701", Decimal("0"), "Autoliquidation"),
     ("US", "", Decimal("0"), "259-1")],
)
def test_vat_follows_the_buyer_country_and_status(pro, country, vat_number, rate, mention):
    from subscriptions import vat

    partner = PartnerFactory(country=country, vat_number=vat_number, siret="" if country != "FR" else "73282932000074")
    subscription = subscribe(partner, pro, dt.date(2026, 9, 1))
    invoice = Invoice.objects.get(subscription=subscription)
    assert invoice.vat_rate == rate
    assert invoice.total_cents == invoice.subtotal_cents + invoice.vat_cents
    assert mention in vat.REGIMES[invoice.vat_regime].mention


def test_payments_partial_full_and_repeated(partner, pro):
    subscription = subscribe(partner, pro, dt.date(2026, 9, 1))
    invoice = Invoice.objects.get(subscription=subscription)  # 118,80 €
    services.record_payment(invoice=invoice, amount_cents=5000, received_on=dt.date(2026, 9, 5),
                            reference="VIR-1", actor=SYSTEM)
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.OPEN and invoice.balance_cents == 6880
    services.record_payment(invoice=invoice, amount_cents=6880, received_on=dt.date(2026, 9, 6),
                            reference="VIR-2", actor=SYSTEM)
    services.record_payment(invoice=invoice, amount_cents=6880, received_on=dt.date(2026, 9, 6),
                            reference="VIR-2", actor=SYSTEM)  # the same statement line imported twice
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.PAID and invoice.balance_cents == 0
    assert Payment.objects.count() == 2
    assert PartnerEvent.objects.filter(type="invoice.paid").count() == 1


def test_overpayment_is_recorded_and_shown(partner, pro):
    subscription = subscribe(partner, pro, dt.date(2026, 9, 1))
    invoice = Invoice.objects.get(subscription=subscription)
    services.record_payment(invoice=invoice, amount_cents=20000, received_on=dt.date(2026, 9, 5),
                            reference="VIR-9", actor=SYSTEM)
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.PAID and invoice.balance_cents == -8120
    assert invoice.timeline.filter(kind="overpaid").exists()


@pytest.mark.parametrize("amount", [0, -500])
def test_a_negative_or_zero_payment_is_refused(partner, pro, amount):
    subscription = subscribe(partner, pro, dt.date(2026, 9, 1))
    invoice = Invoice.objects.get(subscription=subscription)
    with pytest.raises(services.InvalidPayment):
        services.record_payment(invoice=invoice, amount_cents=amount, received_on=dt.date(2026, 9, 5),
                                reference="X", actor=SYSTEM)
    assert not Payment.objects.exists()


def test_credit_notes_have_their_own_series_and_a_full_credit_voids_an_unpaid_invoice(partner, pro):
    subscription = subscribe(partner, pro, dt.date(2026, 9, 1))
    invoice = Invoice.objects.get(subscription=subscription)
    partial = services.issue_credit_note(invoice=invoice, subtotal_cents=1000, reason="goodwill",
                                         description="Geste commercial", actor=SYSTEM, today=dt.date(2026, 9, 3))
    rest = services.cancel_invoice(invoice=invoice, actor=SYSTEM)
    invoice.refresh_from_db()
    assert (partial.number, rest.number[:8]) == ("AV-2026-000001", "AV-2026-")
    assert partial.total_cents + rest.total_cents == invoice.total_cents
    assert invoice.status == Invoice.Status.VOID
    with pytest.raises(services.InvalidCredit):
        services.issue_credit_note(invoice=invoice, subtotal_cents=1, reason="goodwill", description="x", actor=SYSTEM)


def test_crediting_a_paid_invoice_refunds_through_the_rail(partner, pro):
    subscription = subscribe(partner, pro, dt.date(2026, 9, 1))
    invoice = Invoice.objects.get(subscription=subscription)
    services.record_payment(invoice=invoice, amount_cents=invoice.total_cents, received_on=dt.date(2026, 9, 2),
                            reference="VIR-3", actor=SYSTEM)
    note = services.issue_credit_note(invoice=invoice, subtotal_cents=2000, reason="goodwill", description="x",
                                      actor=SYSTEM)
    assert note.refunded_cents == note.total_cents == 2400
    assert invoice.timeline.filter(kind="refund").exists()


def test_standing_before_and_after_the_transition_date(settings):
    settings.BIGSTOCK_TRANSITION_DATE = dt.date(2027, 1, 1)
    legacy = PartnerFactory()
    assert standing.evaluate(partner=legacy, today=dt.date(2026, 12, 31))[0] == "active"
    level, reason = standing.evaluate(partner=legacy, today=dt.date(2027, 1, 1))
    assert level == "inactive" and "No subscription" in reason


def test_a_free_partner_without_orders_for_90_days_is_dormant_until_it_orders_or_subscribes(settings):
    import datetime as dt

    from django.utils import timezone

    from subscriptions import growth

    settings.BIGSTOCK_TRANSITION_DATE = dt.date(2099, 1, 1)
    partner = PartnerFactory()
    today = timezone.localdate()
    assert standing.evaluate(partner=partner, today=today)[0] == "active"  # new: not dormant yet
    later = today + dt.timedelta(days=120)
    level, reason = standing.evaluate(partner=partner, today=later)
    assert level == "inactive" and "No order for 90 days" in reason
    growth.record_usage(partner=partner, month=later - dt.timedelta(days=20), orders=3)
    assert standing.evaluate(partner=partner, today=later)[0] == "active"
