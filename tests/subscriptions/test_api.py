import datetime as dt

import pytest
from django.core.cache import cache
from django.utils import timezone
from rest_framework.test import APIClient

from partners.audit import SYSTEM
from partners.models import Role
from subscriptions import services
from subscriptions.models import Invoice, InvoiceLine
from tests.bigstock.test_api_errors import assert_error_format
from tests.factories import MembershipFactory, PartnerFactory, PlanFactory, make_api_key

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    cache.clear()  # throttle counters are keyed by database ids, which tests reuse


@pytest.fixture
def pro():
    return PlanFactory(code="pro", name_fr="Pro", name_en="Pro", price_cents=9900)


class Caller:
    """A partner, its owner, and a client calling with the partner's API key, in English."""

    def __init__(self, *, scopes=("read", "write")):
        self.partner = PartnerFactory()
        self.owner = MembershipFactory(partner=self.partner, role=Role.OWNER)
        _key, secret = make_api_key(self.partner, scopes=scopes, created_by=self.owner)
        self.client = APIClient(HTTP_ACCEPT_LANGUAGE="en")
        self.client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")

    def subscribe(self, plan, day=dt.date(2026, 9, 1)):
        return services.subscribe(partner=self.partner, plan=plan, actor=SYSTEM, today=day)


@pytest.fixture
def caller():
    return Caller()


@pytest.fixture
def other():
    return Caller()


def test_plans_lists_the_offered_versions_with_money_in_cents(caller, pro):
    PlanFactory(code="pro", version=2, name_en="Pro", price_cents=11900, is_public=False)  # not offered yet
    PlanFactory(code="old", archived_at=timezone.now())
    essentiel = PlanFactory(code="essentiel", name_fr="Essentiel", name_en="Essential", price_cents=4900)
    response = caller.client.get("/api/v1/plans")
    assert response.status_code == 200
    body = response.json()
    assert [(plan["code"], plan["version"], plan["price_cents"]) for plan in body] == [
        ("essentiel", essentiel.version, 4900), ("pro", 1, 9900)]
    assert body[0]["name"] == "Essential" and body[0]["currency"] == "EUR"
    assert body[0]["wholesale_discount"] == "0.000"


def test_subscription_is_404_in_the_error_format_when_there_is_none(caller):
    assert_error_format(caller.client.get("/api/v1/subscription"), 404, "no_subscription")


def test_subscription_describes_the_current_plan_and_period(caller, pro):
    subscription = caller.subscribe(pro)
    body = caller.client.get("/api/v1/subscription").json()
    assert body["id"] == subscription.public_id and body["id"].startswith("sub_")
    assert body["plan"]["code"] == "pro" and body["plan"]["price_cents"] == 9900
    assert (body["status"], body["rail"], body["scheduled_plan"]) == ("active", "manual", None)
    assert (body["current_period_start"], body["current_period_end"]) == ("2026-09-01", "2026-10-01")
    assert body["created_at"].endswith("Z")


def test_invoices_list_and_detail_in_cents_with_public_ids_and_utc_times(caller, pro):
    invoice = Invoice.objects.get(subscription=caller.subscribe(pro))
    services.record_payment(invoice=invoice, amount_cents=5000, received_on=dt.date(2026, 9, 5),
                            reference="VIR-1", actor=SYSTEM)
    listed = caller.client.get("/api/v1/invoices").json()["results"]
    assert [item["id"] for item in listed] == [invoice.public_id]

    body = caller.client.get(f"/api/v1/invoices/{invoice.public_id}").json()
    assert body["number"] == invoice.number and body["status"] == "open"
    assert (body["subtotal_cents"], body["vat_cents"], body["total_cents"]) == (9900, 1980, 11880)
    assert (body["amount_paid_cents"], body["balance_cents"], body["currency"]) == (5000, 6880, "EUR")
    assert body["vat_rate"] == "0.2000"
    assert body["issue_date"] == "2026-09-01" and body["due_date"] == "2026-09-16"
    assert body["finalized_at"].endswith("Z")
    assert body["lines"][0]["amount_cents"] == 9900
    assert body["payments"][0]["reference"] == "VIR-1" and body["payments"][0]["id"].startswith("pay_")
    assert body["pdf_url"].endswith(f"/api/v1/invoices/{invoice.public_id}/pdf")
    assert "pk" not in body and "partner" not in body


def test_drafts_are_not_listed(caller, pro):
    subscription = caller.subscribe(pro)
    Invoice.objects.create(partner=caller.partner, subscription=subscription, kind="proration",
                           period_start=dt.date(2026, 9, 10), period_end=dt.date(2026, 10, 1))
    assert len(caller.client.get("/api/v1/invoices").json()["results"]) == 1


def test_invoice_pdf_is_a_pdf_attachment_even_when_asked_for_one(caller, pro):
    invoice = Invoice.objects.get(subscription=caller.subscribe(pro))
    response = caller.client.get(f"/api/v1/invoices/{invoice.public_id}/pdf", HTTP_ACCEPT="application/pdf")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == f'attachment; filename="{invoice.number}.pdf"'
    assert b"".join(response.streaming_content).startswith(b"%PDF")
    english = caller.client.get(f"/api/v1/invoices/{invoice.public_id}/pdf?lang=en")
    assert english.content.startswith(b"%PDF")


def test_credit_notes_list_detail_and_pdf(caller, pro):
    invoice = Invoice.objects.get(subscription=caller.subscribe(pro))
    note = services.issue_credit_note(invoice=invoice, subtotal_cents=1000, reason="goodwill",
                                      description="Geste commercial", actor=SYSTEM)
    listed = caller.client.get("/api/v1/credit-notes").json()["results"]
    assert [item["number"] for item in listed] == [note.number]
    body = caller.client.get(f"/api/v1/credit-notes/{note.public_id}").json()
    assert (body["invoice"], body["invoice_number"]) == (invoice.public_id, invoice.number)
    assert (body["subtotal_cents"], body["vat_cents"], body["total_cents"], body["currency"]) == (1000, 200, 1200, "EUR")
    assert caller.client.get(f"/api/v1/credit-notes/{note.public_id}/pdf")["Content-Type"] == "application/pdf"
    invoice_body = caller.client.get(f"/api/v1/invoices/{invoice.public_id}").json()
    assert invoice_body["credit_notes"] == [
        {"id": note.public_id, "number": note.number, "issue_date": note.issue_date.isoformat(), "total_cents": 1200}]


def test_another_partners_invoice_credit_note_and_pdfs_are_404(caller, other, pro):
    invoice = Invoice.objects.get(subscription=other.subscribe(pro))
    note = services.issue_credit_note(invoice=invoice, subtotal_cents=100, reason="goodwill", description="x",
                                      actor=SYSTEM)
    for url in [f"/api/v1/invoices/{invoice.public_id}", f"/api/v1/invoices/{invoice.public_id}/pdf",
                f"/api/v1/credit-notes/{note.public_id}", f"/api/v1/credit-notes/{note.public_id}/pdf"]:
        assert_error_format(caller.client.get(url), 404, "not_found")
    assert caller.client.get("/api/v1/invoices").json()["results"] == []
    assert caller.client.get("/api/v1/credit-notes").json()["results"] == []
    invoice.refresh_from_db()
    assert not invoice.pdf


@pytest.mark.parametrize("url", ["/api/v1/plans", "/api/v1/subscription", "/api/v1/invoices",
                                 "/api/v1/credit-notes"])
def test_billing_is_read_only(caller, pro, url):
    assert_error_format(caller.client.post(url, {}, format="json"), 405, "method_not_allowed")


def test_detail_routes_are_read_only_too(caller, pro):
    invoice = Invoice.objects.get(subscription=caller.subscribe(pro))
    for method in ("put", "patch", "delete"):
        response = getattr(caller.client, method)(f"/api/v1/invoices/{invoice.public_id}", {}, format="json")
        assert_error_format(response, 405, "method_not_allowed")


def test_the_portal_session_reads_the_same_api(client, pro):
    member = MembershipFactory(role=Role.MEMBER)
    services.subscribe(partner=member.partner, plan=pro, actor=SYSTEM, today=dt.date(2026, 9, 1))
    client.force_login(member.user)
    assert client.get("/api/v1/subscription").json()["plan"]["code"] == "pro"


def test_without_credentials_billing_is_401(client):
    assert_error_format(client.get("/api/v1/invoices"), 401, "not_authenticated")


def _many_invoices(caller, plan, months: int) -> None:
    subscription = caller.subscribe(plan, day=dt.date(2024, 1, 1))
    day = dt.date(2024, 2, 1)
    for _ in range(months):
        services.invoice_next_period(subscription_id=subscription.pk, period_start=day, today=day)
        day = (day + dt.timedelta(days=32)).replace(day=1)
    invoice = Invoice.objects.filter(partner=caller.partner).first()
    services.record_payment(invoice=invoice, amount_cents=100, received_on=day, reference="VIR-Q", actor=SYSTEM)
    services.issue_credit_note(invoice=invoice, subtotal_cents=100, reason="goodwill", description="x", actor=SYSTEM)


@pytest.mark.parametrize("months", [3, 30])
def test_the_invoice_list_takes_a_fixed_number_of_queries(caller, pro, months, django_assert_max_num_queries):
    _many_invoices(caller, pro, months)
    assert InvoiceLine.objects.filter(invoice__partner=caller.partner).count() > months
    caller.client.get("/api/v1/invoices?limit=1")  # the key and its plan are then cached, as in steady use
    # The invoices with their subscriptions, then lines, payments and credit notes.
    with django_assert_max_num_queries(4):
        response = caller.client.get("/api/v1/invoices?limit=200")
    assert len(response.json()["results"]) == months + 1


@pytest.mark.parametrize("months", [3, 30])
def test_the_credit_note_list_takes_a_fixed_number_of_queries(caller, pro, months, django_assert_max_num_queries):
    subscription = caller.subscribe(pro, day=dt.date(2024, 1, 1))
    invoice = Invoice.objects.get(subscription=subscription)
    for _ in range(months):
        services.issue_credit_note(invoice=invoice, subtotal_cents=10, reason="goodwill", description="x",
                                   actor=SYSTEM)
    caller.client.get("/api/v1/credit-notes?limit=1")  # the key and its plan are then cached, as in steady use
    with django_assert_max_num_queries(1):  # the credit notes with their invoices
        response = caller.client.get("/api/v1/credit-notes?limit=200")
    assert len(response.json()["results"]) == months
