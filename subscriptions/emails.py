"""Billing emails: the invoice when issued, reminders when late. Sent to the billing email
and the partner's owners, in French with the English text below (B2B invoices are French)."""

from django.conf import settings
from django.core.mail import EmailMessage
from django.utils import timezone

from bigstock import mail
from partners.models import Role

from . import history
from .models import Invoice


def billing_recipients(partner) -> list[str]:
    """Who receives a partner's billing emails: its billing address and its active owners."""
    owners = partner.memberships.filter(role=Role.OWNER, user__is_active=True).values_list("user__email", flat=True)
    return sorted({partner.billing_email, *owners} - {""})


def send_invoice(*, invoice_id: int, resend: bool = False) -> None:
    """Email the invoice with its PDF; once, unless ``resend`` (staff asked for it again)."""
    invoice = Invoice.objects.select_related("partner").get(pk=invoice_id)
    if not resend and invoice.timeline.filter(kind="emailed").exists():
        return
    context = {"invoice": invoice, "site_url": settings.BIGSTOCK_SITE_URL, "bank": settings.BIGSTOCK_BANK}
    subject, body = mail.bilingual("subscriptions/email/invoice", context)
    message = EmailMessage(subject, body, to=billing_recipients(invoice.partner))
    if invoice.pdf:
        with invoice.pdf.open("rb") as pdf:
            message.attach(f"{invoice.number}.pdf", pdf.read(), "application/pdf")
    message.send()
    recipients = ", ".join(message.to)
    history.record(invoice, "emailed", recipients=recipients)


def send_reminder(*, invoice_id: int, days_late: int) -> None:
    invoice = Invoice.objects.select_related("partner", "subscription").get(pk=invoice_id)
    context = {"invoice": invoice, "days_late": days_late, "site_url": settings.BIGSTOCK_SITE_URL,
               "bank": settings.BIGSTOCK_BANK, "grace_until": invoice.subscription.grace_until}
    subject, body = mail.bilingual("subscriptions/email/reminder", context)
    EmailMessage(subject, body, to=billing_recipients(invoice.partner)).send()


def send_transition_notice(*, campaign_id: int, partner_id: int, kind: str) -> None:
    from partners.models import Partner

    from .models import TransitionCampaign
    from .services import offered_plans

    campaign = TransitionCampaign.objects.select_related("coupon").get(pk=campaign_id)
    partner = Partner.objects.get(pk=partner_id)
    days_left = (campaign.transition_date - timezone.localdate()).days
    context = {"campaign": campaign, "partner": partner, "kind": kind, "days_left": days_left,
               "plans": offered_plans(), "site_url": settings.BIGSTOCK_SITE_URL}
    subject, body = mail.bilingual("subscriptions/email/transition", context)
    EmailMessage(subject, body, to=billing_recipients(partner)).send()


def send_upgrade_suggestion(*, suggestion_id: int) -> None:
    from .models import UpgradeSuggestion

    suggestion = UpgradeSuggestion.objects.select_related("partner", "from_plan", "suggested_plan").get(pk=suggestion_id)
    partner = suggestion.partner
    context = {"suggestion": suggestion, "partner": partner, "site_url": settings.BIGSTOCK_SITE_URL,
               "difference_cents": suggestion.suggested_plan.price_cents - suggestion.from_plan.price_cents}
    subject, body = mail.bilingual("subscriptions/email/upgrade_suggestion", context)
    EmailMessage(subject, body, to=billing_recipients(partner)).send()
