"""Telling people: partners when a payment needs them, staff when Stripe and BigStock disagree.

Partner emails go to the billing email and the owners, in French with the English text below,
like every billing email. Staff see every issue in the admin (Stripe mismatches and alerts);
disputes and failed refunds are also emailed to ``STRIPE_ALERT_EMAIL``.
"""

import logging

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation

from bigstock import mail
from partners.models import Partner

from ..emails import billing_recipients
from ..models import PaymentAttempt, StripeIssue

logger = logging.getLogger(__name__)

TEMPLATES = "subscriptions/stripe/email"


def _send(name: str, context: dict, to: list[str]) -> None:
    """One email: the French text, then the English one; the subject in French."""
    context = {**context, "site_url": settings.BIGSTOCK_SITE_URL,
               "payment_method_url": settings.BIGSTOCK_SITE_URL + reverse("stripe:payment_method"),
               "authenticate_url": settings.BIGSTOCK_SITE_URL + reverse("stripe:authenticate")}
    subject, body = mail.bilingual(f"{TEMPLATES}/{name}", context)
    EmailMessage(subject, body, to=to).send()


def payment_failed(*, attempt_id: int) -> None:
    """The charge was declined: why, whether we try again and when, and what the partner can do."""
    from .collection import decline_reason

    attempt = PaymentAttempt.objects.select_related("invoice", "partner", "payment_method").get(pk=attempt_id)
    _send("payment_failed", {"attempt": attempt, "invoice": attempt.invoice, "bank": settings.BIGSTOCK_BANK,
                             "reason": decline_reason(attempt)}, billing_recipients(attempt.partner))


def authentication_required(*, attempt_id: int) -> None:
    """The bank asks the cardholder to confirm the payment: a link to the portal page that does it."""
    attempt = PaymentAttempt.objects.select_related("invoice", "partner", "payment_method").get(pk=attempt_id)
    _send("authentication_required", {"attempt": attempt, "invoice": attempt.invoice},
          billing_recipients(attempt.partner))


def method_removed(*, partner_id: int, label: str) -> None:
    """The saved method disappeared on Stripe's side (detached, customer deleted): back to bank transfer."""
    partner = Partner.objects.get(pk=partner_id)
    _send("method_removed", {"partner": partner, "label": label, "bank": settings.BIGSTOCK_BANK},
          billing_recipients(partner))


def report(*, kind: str, stripe_object_id: str, message: str, tell_staff: bool = False, **links) -> StripeIssue:
    """List an issue for staff (once while it is open); ``tell_staff`` also emails them."""
    open_issue = StripeIssue.objects.filter(kind=kind, stripe_object_id=stripe_object_id, resolved_at=None).first()
    if open_issue is not None:
        return open_issue
    try:
        with transaction.atomic():
            issue = StripeIssue.objects.create(kind=kind, stripe_object_id=stripe_object_id, message=message[:500],
                                               **links)
    except IntegrityError:  # reported at the same moment by the webhook and the sweep
        return StripeIssue.objects.get(kind=kind, stripe_object_id=stripe_object_id, resolved_at=None)
    logger.warning("stripe issue %s: %s", kind, message, extra={"stripe_object": stripe_object_id})
    if tell_staff and settings.STRIPE_ALERT_EMAIL:
        issue_id = issue.pk
        transaction.on_commit(lambda: _tell_staff(issue_id))
    return issue


def resolve(*, issues, by) -> int:
    """Staff dealt with these issues: closed (a new occurrence opens a new issue)."""
    return issues.filter(resolved_at=None).update(resolved_at=timezone.now(), resolved_by=by)


def _tell_staff(issue_id: int) -> None:
    issue = StripeIssue.objects.select_related("partner", "invoice").get(pk=issue_id)
    admin_url = settings.BIGSTOCK_SITE_URL + reverse("admin:subscriptions_stripeissue_change", args=[issue.pk])
    with translation.override("fr"):
        subject = f"{settings.ACCOUNT_EMAIL_SUBJECT_PREFIX}Stripe: {issue.get_kind_display()}"
        body = render_to_string(f"{TEMPLATES}/staff_alert.txt", {"issue": issue, "admin_url": admin_url})
    EmailMessage(subject, body, to=[settings.STRIPE_ALERT_EMAIL]).send()
