import datetime as dt

import pytest
from django.core import mail
from django.utils import translation

from bigstock.models import PartnerEvent
from partners.audit import SYSTEM
from subscriptions import dunning, services
from subscriptions.models import Invoice, Standing, Subscription
from tests.factories import MembershipFactory, PlanFactory

pytestmark = pytest.mark.django_db


def run(day):
    for invoice_id in dunning.overdue_invoice_ids(today=day):
        dunning.process_overdue_invoice(invoice_id=invoice_id, today=day)


def test_the_whole_dunning_path_from_due_to_suspended_to_restored(settings, django_capture_on_commit_callbacks):
    settings.BIGSTOCK_REMINDER_DAYS = [3, 7, 14]
    settings.BIGSTOCK_GRACE_DAYS = 14
    partner = MembershipFactory().partner
    subscription = services.subscribe(partner=partner, plan=PlanFactory(), actor=SYSTEM, today=dt.date(2026, 3, 1))
    invoice = Invoice.objects.get(subscription=subscription)
    assert invoice.due_date == dt.date(2026, 3, 16)
    mail.outbox.clear()

    def level():
        return Standing.objects.get(partner=partner).level

    with django_capture_on_commit_callbacks(execute=True):
        run(dt.date(2026, 3, 16))  # due today: nothing yet
    subscription.refresh_from_db()
    assert subscription.status == Subscription.Status.ACTIVE and level() == "active"

    with django_capture_on_commit_callbacks(execute=True):
        run(dt.date(2026, 3, 17))
    subscription.refresh_from_db()
    assert subscription.status == Subscription.Status.PAST_DUE and level() == "grace"
    assert subscription.grace_until == dt.date(2026, 3, 30)
    assert PartnerEvent.objects.filter(type="invoice.overdue").count() == 1
    overdue = invoice.timeline.get(kind="overdue")  # its date is written out in the reader's language
    with translation.override("en"):
        assert overdue.text == "Overdue: the subscription is past due, service continues until March 30, 2026"
    with translation.override("fr"):
        assert overdue.text.endswith("30 mars 2026")
    assert not mail.outbox

    with django_capture_on_commit_callbacks(execute=True):
        run(dt.date(2026, 3, 19))  # D+3
        run(dt.date(2026, 3, 19))  # a second run the same day sends nothing more
    assert len(mail.outbox) == 1 and invoice.number in mail.outbox[0].subject
    french, english = mail.outbox[0].body.split("\n----------\n")  # dates as each language writes them
    assert "30 mars 2026" in french and "March 30, 2026" in english

    with django_capture_on_commit_callbacks(execute=True):
        run(dt.date(2026, 3, 30))  # D+14 reminder, last day of grace (D+7 was missed: no burst)
    assert len(mail.outbox) == 2
    subscription.refresh_from_db()
    assert subscription.status == Subscription.Status.PAST_DUE

    with django_capture_on_commit_callbacks(execute=True):
        run(dt.date(2026, 3, 31))
    subscription.refresh_from_db()
    assert subscription.status == Subscription.Status.SUSPENDED and level() == "suspended"
    kinds = list(invoice.timeline.values_list("kind", flat=True))
    assert kinds[-4:] == ["overdue", "reminder", "reminder", "suspended"]

    services.record_payment(invoice=invoice, amount_cents=invoice.total_cents, received_on=dt.date(2026, 4, 1),
                            reference="VIR-LATE", actor=SYSTEM)
    subscription.refresh_from_db()
    assert subscription.status == Subscription.Status.ACTIVE and level() == "active"
    assert subscription.grace_until is None
    changes = list(PartnerEvent.objects.filter(type="standing.changed").order_by("id")
                   .values_list("payload__standing", flat=True))
    assert changes == ["grace", "suspended", "active"]


def test_an_overdue_line_written_before_dates_were_kept_as_iso_reads_as_it_was_written():
    partner = MembershipFactory().partner
    subscription = services.subscribe(partner=partner, plan=PlanFactory(), actor=SYSTEM, today=dt.date(2026, 3, 1))
    invoice = Invoice.objects.get(subscription=subscription)
    line = invoice.timeline.create(kind="overdue", params={"date": "30/03/2026"})
    with translation.override("en"):
        assert line.text == "Overdue: the subscription is past due, service continues until 30/03/2026"
