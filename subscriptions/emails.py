"""Billing emails: the invoice when issued, reminders when late. Sent to the billing email
and the partner's owners, in French with the English text below (B2B invoices are French)."""

from django.conf import settings
from django.core.mail import EmailMessage
from django.template.loader import render_to_string
from django.utils import translation

from partners.models import Role

from .models import Invoice


def _recipients(invoice: Invoice) -> list[str]:
    owners = invoice.partner.memberships.filter(role=Role.OWNER, user__is_active=True).values_list("user__email", flat=True)
    return sorted({invoice.partner.billing_email, *owners} - {""})


def _render(template: str, context: dict) -> tuple[str, str]:
    parts = []
    subject = ""
    for language in ("fr", "en"):
        with translation.override(language):
            if not subject:
                subject = render_to_string(f"subscriptions/email/{template}_subject.txt", context).strip()
            parts.append(render_to_string(f"subscriptions/email/{template}.txt", context).strip())
    return f"{settings.ACCOUNT_EMAIL_SUBJECT_PREFIX}{subject}", "\n\n----------\n\n".join(parts) + "\n"


def send_invoice(*, invoice_id: int) -> None:
    invoice = Invoice.objects.select_related("partner").get(pk=invoice_id)
    context = {"invoice": invoice, "site_url": settings.BIGSTOCK_SITE_URL, "bank": settings.BIGSTOCK_BANK}
    subject, body = _render("invoice", context)
    message = EmailMessage(subject, body, to=_recipients(invoice))
    if invoice.pdf:
        with invoice.pdf.open("rb") as pdf:
            message.attach(f"{invoice.number}.pdf", pdf.read(), "application/pdf")
    message.send()


def send_reminder(*, invoice_id: int, days_late: int) -> None:
    invoice = Invoice.objects.select_related("partner", "subscription").get(pk=invoice_id)
    context = {"invoice": invoice, "days_late": days_late, "site_url": settings.BIGSTOCK_SITE_URL,
               "bank": settings.BIGSTOCK_BANK, "grace_until": invoice.subscription.grace_until}
    subject, body = _render("reminder", context)
    EmailMessage(subject, body, to=_recipients(invoice)).send()
