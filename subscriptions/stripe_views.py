"""Portal pages of the Stripe rail (under ``/billing/payment-method/``) and the Stripe webhook
endpoint (``/webhooks/stripe/``). Thin: each calls ``subscriptions.stripe``.

Every team member sees which method pays the invoices; saving, replacing or removing a method,
choosing automatic payment and confirming a payment need ``manage_billing`` (owners and
admins). A Stripe error or timeout is never a 500: the page says what happened and what to do.
"""

import logging

from django.conf import settings
from django.contrib import messages
from django.http import JsonResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views import View
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from django.views.generic import TemplateView

from bigstock.errors import DomainError, json_error
from partners.views import PortalAction, PortalPage

from . import services
from .models import PaymentAttempt, StripePaymentMethod, Subscription
from .stripe import collection, gateway, is_enabled, methods, webhooks
from .stripe.errors import StripeNotOffered

logger = logging.getLogger(__name__)

OVERVIEW = "stripe:payment_method"


class StripePage(PortalPage):
    """A page of the rail: when Stripe is not configured, back to the billing page, saying so."""

    def dispatch(self, request, *args, **kwargs):
        if request.user.is_authenticated and request.membership is not None and not is_enabled():
            messages.info(request, StripeNotOffered().message)
            return redirect("subscriptions:billing")
        return super().dispatch(request, *args, **kwargs)


class PaymentMethodView(StripePage, TemplateView):
    """What pays the invoices: the saved card or mandate, automatic payment on or off."""

    template_name = "subscriptions/stripe/payment_method.html"

    def get_context_data(self, **kwargs):
        return super().get_context_data(
            method=methods.saved_method(self.partner),
            subscription=services.current_subscription(self.partner),
            waiting_count=PaymentAttempt.objects.for_partner(self.partner)
            .filter(status=PaymentAttempt.Status.REQUIRES_ACTION).count(),
            attempts=PaymentAttempt.objects.for_partner(self.partner).select_related("invoice", "payment_method")[:10],
            **kwargs,
        )


class SetupView(StripePage, TemplateView):
    """Stripe.js collects the card or the IBAN (never our server) and confirms a SetupIntent."""

    required_permission = "manage_billing"
    template_name = "subscriptions/stripe/setup.html"
    kind = StripePaymentMethod.Kind.CARD

    def get(self, request, *args, **kwargs):
        try:
            client_secret = methods.start_setup(partner=self.partner, kind=self.kind)
        except DomainError as error:
            self.domain_error(error)
            return redirect(OVERVIEW)
        return self.render_to_response(self.get_context_data(
            client_secret=client_secret, kind=self.kind, is_sepa=self.kind == StripePaymentMethod.Kind.SEPA_DEBIT,
            publishable_key=settings.STRIPE_PUBLISHABLE_KEY, stripe_js_url=settings.STRIPE_JS_URL,
            return_url=request.build_absolute_uri(reverse("stripe:saved")),
            creditor=settings.BIGSTOCK_SELLER["legal_name"], replaces=methods.saved_method(self.partner)))


class SavedView(StripePage, View):
    """Where Stripe.js (or Stripe's redirect) lands: ``?setup_intent=seti_...``. Idempotent."""

    required_permission = "manage_billing"

    def get(self, request):
        setup_intent_id = request.GET.get("setup_intent", "")
        if not setup_intent_id:
            return redirect(OVERVIEW)
        try:
            method = methods.save_payment_method(partner=self.partner, setup_intent_id=setup_intent_id,
                                                 actor=self.actor)
        except DomainError as error:
            self.domain_error(error)
            return redirect(OVERVIEW)
        subscription = services.current_subscription(self.partner)
        if subscription is not None and subscription.rail == Subscription.Rail.STRIPE:
            messages.success(request, _("%(method)s is saved: your invoices are charged to it.") % {
                "method": method.label})
        else:
            messages.success(request, _("%(method)s is saved. Choose automatic payment below to have your invoices "
                                        "charged to it.") % {"method": method.label})
        return redirect(OVERVIEW)


class RemoveView(StripePage, PortalAction):
    required_permission = "manage_billing"
    redirect_to = OVERVIEW

    def perform(self):
        method = methods.remove_payment_method(partner=self.partner, actor=self.actor)
        return _("%(method)s is removed. Your invoices are now paid by bank transfer.") % {"method": method.label}


class RailView(StripePage, PortalAction):
    """``rail=stripe``: charge invoices to the saved method; ``rail=manual``: pay by bank transfer."""

    required_permission = "manage_billing"
    redirect_to = OVERVIEW

    def perform(self):
        subscription = services.current_subscription(self.partner)
        if subscription is None:
            raise services.NoSubscription(_("You have no subscription: choose a plan first."))
        rail = self.request.POST.get("rail", "")
        methods.switch_rail(subscription=subscription, rail=rail, actor=self.actor)
        if rail == Subscription.Rail.STRIPE:
            return _("Automatic payment is on: each invoice is charged to your saved method when it is issued, "
                     "starting with any open invoice.")
        return _("Automatic payment is off: your invoices are paid by bank transfer.")


class AuthenticateView(StripePage, TemplateView):
    """Payments the bank wants the cardholder to confirm (strong customer authentication)."""

    required_permission = "manage_billing"
    template_name = "subscriptions/stripe/authenticate.html"

    def get(self, request, *args, **kwargs):
        try:
            waiting = collection.authentication_requests(self.partner)
        except DomainError as error:
            self.domain_error(error)
            return redirect(OVERVIEW)
        return self.render_to_response(self.get_context_data(
            waiting=waiting, publishable_key=settings.STRIPE_PUBLISHABLE_KEY, stripe_js_url=settings.STRIPE_JS_URL,
            return_url=request.build_absolute_uri(reverse("stripe:authenticated"))))


class AuthenticatedView(StripePage, View):
    """Back from Stripe.js: ``?payment_intent=pi_...``; the payment is read from Stripe."""

    required_permission = "manage_billing"

    def get(self, request):
        payment_intent_id = request.GET.get("payment_intent", "")
        if not payment_intent_id:
            return redirect("stripe:authenticate")
        try:
            attempt = collection.confirm_authenticated(partner=self.partner, payment_intent_id=payment_intent_id)
        except DomainError as error:
            self.domain_error(error)
            return redirect("stripe:authenticate")
        if attempt.status == PaymentAttempt.Status.SUCCEEDED:
            messages.success(request, _("Thank you: invoice %(number)s is paid.") % {"number": attempt.invoice.number})
        elif attempt.status == PaymentAttempt.Status.REQUIRES_ACTION:
            messages.warning(request, _("The payment is not confirmed yet: try again below."))
        elif attempt.status in (PaymentAttempt.Status.PROCESSING, PaymentAttempt.Status.CREATED):
            messages.info(request, _("Your bank is processing the payment; the invoice is marked paid when it "
                                     "confirms."))
        else:
            messages.error(request, _("The payment was not confirmed. Replace your payment method or pay invoice "
                                      "%(number)s by bank transfer.") % {"number": attempt.invoice.number})
        return redirect(OVERVIEW)


@csrf_exempt
@require_POST
def stripe_webhook(request):
    """Stripe's webhooks: 400 unless signed with ``STRIPE_WEBHOOK_SECRET`` in the last 5 minutes;
    200 once stored (a redelivered event is acknowledged again and does nothing more)."""
    if not settings.STRIPE_WEBHOOK_SECRET:
        return json_error(request, "stripe_not_configured", "Stripe webhooks are not configured.", 400)
    try:
        event, created = webhooks.receive(payload=request.body, signature=request.headers.get("Stripe-Signature"))
    except gateway.SignatureVerificationError:
        logger.warning("stripe webhook with a missing, forged or stale signature")
        return json_error(request, "invalid_signature", "Missing, invalid or expired Stripe-Signature.", 400)
    except (ValueError, KeyError):
        return json_error(request, "invalid_payload", "The body is not a Stripe event.", 400)
    return JsonResponse({"received": True, "id": event.stripe_id, "duplicate": not created})
