import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.core import mail
from django.urls import reverse

from partners.audit import SYSTEM
from partners.models import AuditLogEntry, Partner
from subscriptions import dunning, services, standing
from subscriptions.models import CreditNote, Invoice, InvoiceLine, Payment, Plan, Standing, Subscription
from tests.factories import MembershipFactory, PartnerFactory, PlanFactory, UserFactory

pytestmark = pytest.mark.django_db

PARIS = ZoneInfo("Europe/Paris")
TODAY = dt.date(2026, 9, 21)


@pytest.fixture(autouse=True)
def _september_21(time_machine):
    time_machine.move_to(dt.datetime(2026, 9, 21, 10, 0, tzinfo=PARIS), tick=False)


@pytest.fixture
def staff(client):
    user = UserFactory(is_staff=True, is_superuser=True)
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    client.force_login(user)
    return user


@pytest.fixture
def pro():
    return PlanFactory(code="pro", name_fr="Pro", name_en="Pro", price_cents=9900)


@pytest.fixture
def essentiel():
    return PlanFactory(code="essentiel", name_fr="Essentiel", name_en="Essential", price_cents=4900)


def subscribed(plan, day=dt.date(2026, 9, 1), partner=None) -> Subscription:
    return services.subscribe(partner=partner or MembershipFactory().partner, plan=plan, actor=SYSTEM, today=day)


def invoice_of(subscription) -> Invoice:
    return Invoice.objects.get(subscription=subscription)


def invoice_of_first(subscription) -> Invoice:
    return Invoice.objects.filter(subscription=subscription).order_by("pk").first()


def run_action(client, model, action, objects):
    url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
    return client.post(url, {"action": action, "_selected_action": [obj.pk for obj in objects]}, follow=True)


def messages_of(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


# --- Recording a payment --------------------------------------------------------------------------


def test_recording_a_bank_transfer_in_the_admin_marks_the_invoice_paid(client, staff, pro):
    invoice = invoice_of(subscribed(pro))  # 118,80 €
    url = reverse("admin:subscriptions_invoice_record_payment", args=[invoice.pk])
    form = client.get(url)
    assert form.status_code == 200 and 'value="118.80"' in form.content.decode()

    response = client.post(url, {"amount": "118.80", "received_on": "2026-09-05", "reference": "VIR SEPA 123",
                                 "method": "transfer"}, follow=True)
    assert response.redirect_chain[-1][0] == reverse("admin:subscriptions_invoice_change", args=[invoice.pk])
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.PAID and invoice.balance_cents == 0
    payment = Payment.objects.get(invoice=invoice)
    assert (payment.amount_cents, payment.received_on, payment.recorded_by) == (11880, dt.date(2026, 9, 5), staff)
    assert messages_of(response) == [f"Payment of 118.80\xa0€ recorded on {invoice.number}: Paid, balance 0.00\xa0€."]
    entry = AuditLogEntry.objects.get(action="payment.recorded")
    assert (entry.actor_user, entry.partner) == (staff, invoice.partner)


def test_a_payment_refused_by_the_service_is_shown_as_an_admin_message_and_records_nothing(client, staff, pro):
    first, second = invoice_of(subscribed(pro)), invoice_of(subscribed(pro))
    services.record_payment(invoice=first, amount_cents=100, received_on=TODAY, reference="VIR-1", actor=SYSTEM)
    url = reverse("admin:subscriptions_invoice_record_payment", args=[second.pk])
    response = client.post(url, {"amount": "10", "received_on": "2026-09-05", "reference": "VIR-1",
                                 "method": "transfer"})
    assert response.status_code == 200
    assert messages_of(response) == [f"This payment reference is already recorded on invoice {first.number}."]
    assert not Payment.objects.filter(invoice=second).exists()


def test_the_payment_form_shows_errors_next_to_its_fields(client, staff, pro):
    invoice = invoice_of(subscribed(pro))
    response = client.post(reverse("admin:subscriptions_invoice_record_payment", args=[invoice.pk]),
                           {"amount": "0", "received_on": "", "reference": "", "method": "transfer"})
    assert set(response.context["form"].errors) == {"amount", "received_on", "reference"}
    assert not Payment.objects.exists()


def test_staff_without_the_payment_permission_cannot_record_one(client, pro):
    clerk = UserFactory(is_staff=True)
    client.force_login(clerk)
    invoice = invoice_of(subscribed(pro))
    url = reverse("admin:subscriptions_invoice_record_payment", args=[invoice.pk])
    assert client.post(url, {"amount": "1", "received_on": "2026-09-05", "reference": "X",
                             "method": "transfer"}).status_code == 403


# --- Invoice actions -----------------------------------------------------------------------------


def test_cancelling_an_invoice_issues_a_credit_note_for_what_is_left(client, staff, pro):
    invoice = invoice_of(subscribed(pro))
    services.issue_credit_note(invoice=invoice, subtotal_cents=1000, reason="goodwill", description="x",
                               actor=SYSTEM)
    response = run_action(client, Invoice, "cancel_with_credit_note", [invoice])
    invoice.refresh_from_db()
    note = CreditNote.objects.get(invoice=invoice, reason=CreditNote.Reason.CANCELLATION)
    assert note.subtotal_cents == 8900
    assert invoice.status == Invoice.Status.VOID and invoice.balance_cents == 0
    assert messages_of(response) == [f"Credit note {note.number} issued."]

    again = run_action(client, Invoice, "cancel_with_credit_note", [invoice])
    assert messages_of(again)[0].startswith(f"{invoice.number}: The credit must be between")
    assert CreditNote.objects.filter(invoice=invoice).count() == 2


def test_finalizing_drafts_numbers_them_and_leaves_the_others(client, staff, pro):
    subscription = subscribed(pro)
    draft = Invoice.objects.create(partner=subscription.partner, subscription=subscription, kind="proration",
                                   period_start=TODAY, period_end=dt.date(2026, 10, 1), subtotal_cents=1000,
                                   vat_cents=200, total_cents=1200)
    InvoiceLine.objects.create(invoice=draft, description="Ajustement", unit_price_cents=1000, amount_cents=1000)
    response = run_action(client, Invoice, "finalize_drafts", [draft, invoice_of_first(subscription)])
    draft.refresh_from_db()
    assert draft.status == Invoice.Status.OPEN and draft.number == "BS-2026-000002"
    assert messages_of(response) == ["1 invoice finalized.", "1 invoice was not a draft."]



def test_resending_emails_the_invoice_again(client, staff, pro):
    invoice = invoice_of(subscribed(pro))
    response = run_action(client, Invoice, "resend_email", [invoice])
    assert messages_of(response) == ["1 invoice queued for sending."]
    assert [invoice.number in message.subject for message in mail.outbox] == [True]


def test_invoices_are_read_only_and_filter_by_overdue(client, staff, pro):
    late = invoice_of(subscribed(pro))  # due 16/09
    on_time = invoice_of(subscribed(pro, day=TODAY))
    changelist = reverse("admin:subscriptions_invoice_changelist")
    listed = client.get(changelist + "?overdue=yes").context["cl"].result_list
    assert list(listed) == [late]
    assert on_time not in client.get(changelist + "?overdue=yes").context["cl"].result_list
    page = client.get(reverse("admin:subscriptions_invoice_change", args=[late.pk]))
    assert page.status_code == 200 and "Record a payment" in page.content.decode()
    assert not page.context["has_change_permission"]


# --- Subscriptions -------------------------------------------------------------------------------


def test_extending_grace_gives_a_late_partner_seven_more_days(client, staff, pro):
    late = subscribed(pro)
    dunning.process_overdue_invoice(invoice_id=invoice_of(late).pk, today=TODAY)  # due 16/09: past due
    late.refresh_from_db()
    assert (late.status, late.grace_until) == ("past_due", dt.date(2026, 9, 30))
    on_time = subscribed(pro, day=TODAY)

    response = run_action(client, Subscription, "extend_grace", [late, on_time])
    late.refresh_from_db()
    assert (late.status, late.grace_until) == ("past_due", dt.date(2026, 10, 7))
    assert messages_of(response) == [
        f"{on_time.partner}: Only a past-due or suspended subscription has a grace period to extend.",
        "1 grace period extended by 7 days.",
    ]
    assert AuditLogEntry.objects.get(action="subscription.grace_extended").actor_user == staff


def test_extending_grace_of_a_suspended_subscription_serves_the_partner_again(pro):
    subscription = subscribed(pro, day=dt.date(2026, 8, 1))  # due 16/08, grace to 30/08
    dunning.process_overdue_invoice(invoice_id=invoice_of(subscription).pk, today=TODAY)
    subscription.refresh_from_db()
    assert subscription.status == "suspended"
    services.extend_grace(subscription=subscription, days=7, actor=SYSTEM, today=TODAY)
    subscription.refresh_from_db()
    assert (subscription.status, subscription.grace_until) == ("past_due", dt.date(2026, 9, 28))
    assert Standing.objects.get(partner=subscription.partner).level == Standing.Level.GRACE
    dunning.process_overdue_invoice(invoice_id=invoice_of(subscription).pk, today=dt.date(2026, 9, 27))
    subscription.refresh_from_db()
    assert subscription.status == "past_due"


# --- Plans -----------------------------------------------------------------------------------------


def test_a_new_plan_version_is_a_hidden_copy_and_subscribers_keep_theirs(client, staff, pro):
    subscription = subscribed(pro)
    response = run_action(client, Plan, "create_new_version", [pro])
    new = Plan.objects.get(code="pro", version=2)
    assert response.redirect_chain[-1][0] == reverse("admin:subscriptions_plan_change", args=[new.pk])
    assert (new.price_cents, new.is_public, new.name_fr) == (9900, False, "Pro")
    assert services.offered_plans() == [pro]  # the copy is offered only once staff say so

    old_form = client.get(reverse("admin:subscriptions_plan_change", args=[pro.pk])).context["adminform"]
    new_form = client.get(reverse("admin:subscriptions_plan_change", args=[new.pk])).context["adminform"]
    assert "price_cents" in old_form.readonly_fields and "price_cents" not in new_form.readonly_fields

    Plan.objects.filter(pk=new.pk).update(price_cents=11900, is_public=True)
    assert services.offered_plans() == [Plan.objects.get(pk=new.pk)]
    subscription.refresh_from_db()
    assert subscription.plan == pro


def test_archiving_a_plan_stops_offering_it(client, staff, pro, essentiel):
    response = run_action(client, Plan, "archive", [essentiel])
    essentiel.refresh_from_db()
    assert essentiel.is_archived and services.offered_plans() == [pro]
    assert messages_of(response) == ["1 plan archived."]


# --- The dashboard ---------------------------------------------------------------------------------


def test_the_dashboard_shows_mrr_overdue_money_standings_and_this_months_invoices(client, staff, pro, essentiel):
    paid = subscribed(pro)  # active, 99 €
    services.record_payment(invoice=invoice_of(paid), amount_cents=11880, received_on=dt.date(2026, 9, 2),
                            reference="VIR-A", actor=SYSTEM)
    late = subscribed(essentiel)  # 58,80 € due 16/09, unpaid: past due, still billed
    dunning.process_overdue_invoice(invoice_id=invoice_of(late).pk, today=TODAY)
    ended = subscribed(pro, day=dt.date(2026, 8, 3))
    Subscription.objects.filter(pk=ended.pk).update(status=Subscription.Status.CANCELED)
    Invoice.objects.filter(subscription=ended).update(status=Invoice.Status.VOID)
    closed = PartnerFactory(status=Partner.Status.SUSPENDED)
    standing.refresh(partner=closed, today=TODAY)

    response = client.get("/admin/subscriptions/subscription/dashboard/")
    assert response.status_code == 200
    data = response.context["dashboard"]
    assert data.mrr_cents == 9900 + 4900
    assert data.overdue_cents == 5880 and data.overdue_invoices == 1
    assert data.month_invoices == {"count": 2, "total_cents": 11880 + 5880}
    html = response.content.decode()
    assert "148.00\xa0€" in html and "58.80\xa0€" in html and "177.60\xa0€" in html
    counts = {level: count for level, _label, count, _width in response.context["standings"]}
    partners = Partner.objects.count()
    assert counts == {"active": partners - 2, "grace": 1, "inactive": 0, "suspended": 1}
    assert 'aria-label="Grace period: 1"' in html


def test_the_subscription_list_links_to_the_dashboard(client, staff, pro):
    subscribed(pro)
    html = client.get(reverse("admin:subscriptions_subscription_changelist")).content.decode()
    assert reverse("admin:subscriptions_dashboard") in html


@pytest.mark.parametrize("model", [Plan, Subscription, Invoice, CreditNote, Payment, Standing])
def test_every_billing_list_opens(client, staff, pro, model):
    invoice = invoice_of(subscribed(pro))
    services.record_payment(invoice=invoice, amount_cents=100, received_on=TODAY, reference="VIR-L", actor=SYSTEM)
    services.issue_credit_note(invoice=invoice, subtotal_cents=100, reason="goodwill", description="x", actor=SYSTEM)
    changelist = client.get(reverse(f"admin:subscriptions_{model._meta.model_name}_changelist"))
    assert changelist.status_code == 200
    obj = model.objects.first()
    assert client.get(reverse(f"admin:subscriptions_{model._meta.model_name}_change", args=[obj.pk])).status_code == 200
