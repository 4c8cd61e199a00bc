import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from django.utils import translation

from partners.audit import SYSTEM
from partners.models import AuditLogEntry, Role
from subscriptions import services
from subscriptions.models import Invoice, Subscription
from tests.factories import MembershipFactory, PlanFactory

pytestmark = pytest.mark.django_db

PARIS = ZoneInfo("Europe/Paris")
BILLING = "/billing/"


@pytest.fixture(autouse=True)
def _september_21(time_machine):
    """A fixed business date, before the transition."""
    time_machine.move_to(dt.datetime(2026, 9, 21, 10, 0, tzinfo=PARIS), tick=False)


@pytest.fixture
def client(client):
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


@pytest.fixture
def essentiel():
    return PlanFactory(code="essentiel", name_fr="Essentiel", name_en="Essential", price_cents=4900)


@pytest.fixture
def pro():
    return PlanFactory(code="pro", name_fr="Pro", name_en="Pro", price_cents=9900, included_orders=500)


def login(client, role=Role.OWNER, partner=None):
    membership = MembershipFactory(role=role, **({"partner": partner} if partner else {}))
    client.force_login(membership.user)
    return membership


def subscribed(partner, plan, day=dt.date(2026, 9, 1)) -> Subscription:
    return services.subscribe(partner=partner, plan=plan, actor=SYSTEM, today=day)


def messages_of(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


# --- Subscribing -----------------------------------------------------------------------------


def test_without_a_subscription_the_offered_plans_are_cards_with_a_subscribe_button(client, essentiel, pro):
    PlanFactory(code="old", name_en="Retired", archived_at=dt.datetime(2026, 1, 1, tzinfo=PARIS))
    login(client)
    html = client.get(BILLING).content.decode()
    assert "Subscribe to Essential" in html and "Subscribe to Pro" in html
    assert "Retired" not in html
    assert "500 orders per month" in html
    assert "BigStock becomes a monthly subscription on" in html  # the legacy partner's banner


def test_subscribing_from_a_plan_card_starts_the_plan_on_bank_transfer_with_a_first_invoice(client, pro):
    owner = login(client)
    response = client.post(reverse("subscriptions:subscribe"), {"plan": pro.pk}, follow=True)
    subscription = Subscription.objects.get(partner=owner.partner)
    assert (subscription.plan, subscription.rail, subscription.status) == (pro, "manual", "active")
    invoice = Invoice.objects.get(subscription=subscription)
    assert invoice.subtotal_cents == 3300  # 10 of 30 days of 99 €
    assert messages_of(response) == [
        "You are subscribed to the Pro plan. Your first invoice is below, payable by bank transfer."]
    html = response.content.decode()
    assert "Your plan: Pro" in html
    assert invoice.number in html
    assert "On Oct. 1, 2026: 118.80\xa0€ incl. VAT for the Pro plan." in html  # the next invoice
    assert "BigStock becomes a monthly subscription" not in html


def test_an_offer_code_from_the_campaign_link_is_prefilled(client, pro):
    login(client)
    html = client.get(f"{BILLING}?offer=BIENVENUE").content.decode()
    assert 'value="BIENVENUE"' in html


def test_an_unknown_offer_code_is_refused_with_a_message_and_nothing_is_created(client, pro):
    owner = login(client)
    response = client.post(reverse("subscriptions:subscribe"), {"plan": pro.pk, "coupon_code": "NOPE"}, follow=True)
    assert messages_of(response) == ["This offer code does not exist."]
    assert not Subscription.objects.filter(partner=owner.partner).exists()


# --- Changing plan ---------------------------------------------------------------------------


def test_upgrade_preview_shows_the_credit_and_debit_lines_and_confirming_applies_it(client, essentiel, pro):
    owner = login(client)
    subscription = subscribed(owner.partner, essentiel)
    url = reverse("subscriptions:change_plan", args=[pro.pk])
    preview = services.preview_change(subscription=subscription, plan=pro)
    html = client.get(url).content.decode()
    credit, debit = preview.lines  # worded in French, the invoices' language
    assert f"Credit: {credit.description}" in html and "-16.33\xa0€" in html  # 10/30 of 49 €
    assert f"Charge: {debit.description}" in html and "33.00\xa0€" in html  # 10/30 of 99 €
    assert "16.67\xa0€" in html and "3.33\xa0€" in html and "20.00\xa0€" in html  # subtotal, VAT 20 %, total
    assert "applies at once" in html
    assert subscription.plan == essentiel and not Invoice.objects.filter(kind="proration").exists()

    response = client.post(url, follow=True)
    subscription.refresh_from_db()
    assert subscription.plan == pro
    assert Invoice.objects.get(subscription=subscription, kind="proration").total_cents == 2000
    assert messages_of(response)[0].startswith("You are now on the Pro plan.")


def test_downgrade_is_scheduled_for_the_period_end_and_can_be_undone(client, essentiel, pro):
    owner = login(client)
    subscription = subscribed(owner.partner, pro)
    html = client.get(reverse("subscriptions:change_plan", args=[essentiel.pk])).content.decode()
    assert "applies from the next period, on Oct. 1, 2026" in html

    response = client.post(reverse("subscriptions:change_plan", args=[essentiel.pk]), follow=True)
    subscription.refresh_from_db()
    assert (subscription.plan, subscription.scheduled_plan) == (pro, essentiel)
    assert messages_of(response) == ["Your plan changes to Essential on Oct. 1, 2026."]
    html = response.content.decode()
    assert "Your plan changes to Essential on Oct. 1, 2026." in html and "Undo the change" in html
    assert "On Oct. 1, 2026: 58.80\xa0€ incl. VAT for the Essential plan." in html

    response = client.post(reverse("subscriptions:undo_change"), follow=True)
    subscription.refresh_from_db()
    assert subscription.scheduled_plan is None
    assert "Undo the change" not in response.content.decode()


def test_changing_to_the_same_plan_is_refused_with_a_message_and_changes_nothing(client, pro):
    owner = login(client)
    subscription = subscribed(owner.partner, pro)
    url = reverse("subscriptions:change_plan", args=[pro.pk])
    for response in [client.get(url, follow=True), client.post(url, follow=True)]:
        assert response.redirect_chain == [(BILLING, 302)]
        assert messages_of(response) == ["You are already on the Pro plan."]
    subscription.refresh_from_db()
    assert subscription.plan == pro and subscription.scheduled_plan is None
    assert Invoice.objects.filter(subscription=subscription).count() == 1


def test_changing_plan_without_a_subscription_sends_back_to_the_plans(client, pro):
    login(client)
    response = client.get(reverse("subscriptions:change_plan", args=[pro.pk]), follow=True)
    assert messages_of(response) == ["You have no subscription: choose a plan first."]


# --- Cancelling ------------------------------------------------------------------------------


def test_cancel_after_confirmation_then_resume(client, pro):
    owner = login(client)
    subscription = subscribed(owner.partner, pro)
    html = client.get(reverse("subscriptions:cancel")).content.decode()
    assert "stays active until Oct. 1, 2026" in html

    response = client.post(reverse("subscriptions:cancel"), follow=True)
    subscription.refresh_from_db()
    assert subscription.cancel_at_period_end
    assert messages_of(response) == ["Your subscription ends on Oct. 1, 2026. You can resume it until then."]
    assert "Resume the subscription" in response.content.decode()
    assert AuditLogEntry.objects.filter(partner=owner.partner, action="subscription.canceled",
                                        actor_user=owner.user).exists()

    response = client.post(reverse("subscriptions:resume"), follow=True)
    subscription.refresh_from_db()
    assert not subscription.cancel_at_period_end
    assert messages_of(response) == ["Your subscription continues."]


# --- Roles ------------------------------------------------------------------------------------


def test_a_member_sees_billing_and_invoices_read_only_and_cannot_change_anything(client, essentiel, pro):
    member = login(client, role=Role.MEMBER)
    subscription = subscribed(member.partner, pro)
    invoice = Invoice.objects.get(subscription=subscription)

    html = client.get(BILLING).content.decode()
    assert "Your plan: Pro" in html and "Only owners and admins can manage billing." in html
    assert "Switch to" not in html and "Cancel the subscription" not in html
    assert client.get(reverse("subscriptions:invoice", args=[invoice.public_id])).status_code == 200
    assert client.get(reverse("subscriptions:invoice_pdf", args=[invoice.public_id])).status_code == 200

    refused = [
        client.get(reverse("subscriptions:change_plan", args=[essentiel.pk])),
        client.post(reverse("subscriptions:change_plan", args=[essentiel.pk])),
        client.get(reverse("subscriptions:cancel")),
        client.post(reverse("subscriptions:cancel")),
        client.post(reverse("subscriptions:resume")),
        client.post(reverse("subscriptions:undo_change")),
    ]
    assert [response.status_code for response in refused] == [403] * 6
    subscription.refresh_from_db()
    assert subscription.scheduled_plan is None and not subscription.cancel_at_period_end


def test_a_member_without_subscription_sees_the_plans_but_cannot_subscribe(client, pro):
    member = login(client, role=Role.MEMBER)
    assert "Subscribe to Pro" not in client.get(BILLING).content.decode()
    assert client.post(reverse("subscriptions:subscribe"), {"plan": pro.pk}).status_code == 403
    assert not Subscription.objects.filter(partner=member.partner).exists()


# --- Invoices ---------------------------------------------------------------------------------


def test_invoices_list_the_partners_own_with_balance_and_credit_notes(client, pro):
    owner = login(client)
    invoice = Invoice.objects.get(subscription=subscribed(owner.partner, pro))
    note = services.issue_credit_note(invoice=invoice, subtotal_cents=1000, reason="goodwill",
                                      description="Geste commercial", actor=SYSTEM)
    other = MembershipFactory().partner
    theirs = Invoice.objects.get(subscription=subscribed(other, pro))
    html = client.get(reverse("subscriptions:invoices")).content.decode()
    assert invoice.number in html and note.number in html
    assert "106.80\xa0€" in html  # 118.80 - 12.00 credited
    assert theirs.public_id not in html


def test_invoice_detail_shows_lines_timeline_and_bank_transfer_details(client, pro, settings):
    owner = login(client)
    invoice = Invoice.objects.get(subscription=subscribed(owner.partner, pro))
    html = client.get(reverse("subscriptions:invoice", args=[invoice.public_id])).content.decode()
    assert invoice.lines.get().description in html
    assert invoice.timeline.get(kind="finalized").text in html
    assert settings.BIGSTOCK_BANK["iban"] in html and settings.BIGSTOCK_BANK["bic"] in html
    assert f"<code>{invoice.number}</code>" in html  # the transfer reference
    assert "Transfer 118.80\xa0€ by Sept. 16, 2026 to:" in html


def test_a_paid_invoice_shows_its_payment_and_no_transfer_instructions(client, pro, settings):
    owner = login(client)
    invoice = Invoice.objects.get(subscription=subscribed(owner.partner, pro))
    services.record_payment(invoice=invoice, amount_cents=invoice.total_cents, received_on=dt.date(2026, 9, 5),
                            reference="VIR-ABC", actor=SYSTEM)
    html = client.get(reverse("subscriptions:invoice", args=[invoice.public_id])).content.decode()
    assert "VIR-ABC" in html and invoice.timeline.get(kind="paid").text in html
    assert settings.BIGSTOCK_BANK["iban"] not in html.split("Payments")[0]


def test_the_invoice_history_reads_in_the_readers_language(client, pro):
    owner = login(client)
    with translation.override("fr"):  # written by French-speaking workers and staff
        invoice = Invoice.objects.get(subscription=subscribed(owner.partner, pro))
        services.record_payment(invoice=invoice, amount_cents=5000, received_on=dt.date(2026, 9, 5),
                                reference="VIR-ABC", actor=SYSTEM)
    history = client.get(reverse("subscriptions:invoice", args=[invoice.public_id])).content.decode()
    history = history.split('id="timeline-heading"')[1]
    assert f"Finalized as {invoice.number}" in history
    assert "Payment of 50.00\xa0€ received (VIR-ABC)" in history
    with translation.override("fr"):
        assert invoice.timeline.get(kind="payment").text == "Paiement de 50,00\xa0€ reçu (VIR-ABC)"


def test_the_pdf_is_a_french_attachment_stored_once_and_an_english_copy_on_request(client, pro):
    owner = login(client)
    invoice = Invoice.objects.get(subscription=subscribed(owner.partner, pro))
    response = client.get(reverse("subscriptions:invoice_pdf", args=[invoice.public_id]))
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == f'attachment; filename="{invoice.number}.pdf"'
    assert b"".join(response.streaming_content).startswith(b"%PDF")
    invoice.refresh_from_db()
    assert invoice.pdf.name.endswith(f"{invoice.number}.pdf")

    english = client.get(reverse("subscriptions:invoice_pdf", args=[invoice.public_id]) + "?lang=en")
    assert english["Content-Disposition"] == f'attachment; filename="{invoice.number}-en.pdf"'
    assert english.content.startswith(b"%PDF")


def test_a_credit_note_pdf_downloads(client, pro):
    owner = login(client)
    invoice = Invoice.objects.get(subscription=subscribed(owner.partner, pro))
    note = services.cancel_invoice(invoice=invoice, actor=SYSTEM)
    response = client.get(reverse("subscriptions:credit_note_pdf", args=[note.public_id]))
    assert response["Content-Disposition"] == f'attachment; filename="{note.number}.pdf"'


def test_another_partners_invoice_its_pdf_and_credit_note_are_404(client, pro):
    login(client)
    other = MembershipFactory().partner
    invoice = Invoice.objects.get(subscription=subscribed(other, pro))
    note = services.issue_credit_note(invoice=invoice, subtotal_cents=100, reason="goodwill", description="x",
                                      actor=SYSTEM)
    for url in [reverse("subscriptions:invoice", args=[invoice.public_id]),
                reverse("subscriptions:invoice_pdf", args=[invoice.public_id]),
                reverse("subscriptions:invoice_pdf", args=[invoice.public_id]) + "?lang=en",
                reverse("subscriptions:credit_note_pdf", args=[note.public_id])]:
        assert client.get(url).status_code == 404, url
    invoice.refresh_from_db()
    assert not invoice.pdf


def test_the_billing_page_shows_the_bank_details_and_links_to_the_business_profile(client, settings):
    login(client)
    html = client.get(BILLING).content.decode()
    assert settings.BIGSTOCK_BANK["iban"] in html
    assert reverse("partners:profile") in html


def test_a_late_partner_sees_why_its_standing_is_grace(client, pro):
    owner = login(client)
    subscription = subscribed(owner.partner, pro)
    Subscription.objects.filter(pk=subscription.pk).update(status="past_due", grace_until=dt.date(2026, 9, 30))
    html = client.get(BILLING).content.decode()
    assert "Grace period" in html and "An invoice is overdue: service continues until" in html
