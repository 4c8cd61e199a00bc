"""Billing pages of the partner portal. Thin: reads through the partner-scoped querysets and
``subscriptions.selectors``; every change is one call to ``subscriptions.services``.

Every team member sees the billing page, invoices and credit notes (read-only: accountants are
often members); subscribing, changing plan, cancelling and resuming need ``manage_billing``
(owners and admins): the buttons are hidden from others and the URLs answer 403.
"""

import datetime as dt

from django.conf import settings
from django.contrib import messages
from django.http import FileResponse, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.utils import formats
from django.utils.translation import gettext as _
from django.views import View
from django.views.generic import DetailView, ListView, TemplateView

from bigstock.errors import DomainError
from partners.portal import PartnerPortalMixin, PortalAction, PortalPage

from . import documents, growth, periods, selectors, services, standing
from .forms import SubscribeForm
from .models import CreditNote, Invoice, Plan, Standing, Subscription

INVOICES_PER_PAGE = 25
ONE_DAY = dt.timedelta(days=1)  # periods end exclusive; a person reads "from the 1st to the 30th"


def _with_last_day(invoices) -> list[Invoice]:
    """The invoices, each with ``period_last``: the last day its period covers."""
    invoices = list(invoices)
    for invoice in invoices:
        invoice.period_last = invoice.period_end - ONE_DAY
    return invoices


def pdf_response(document: Invoice | CreditNote, *, language: str = "fr") -> HttpResponse:
    """The document's PDF as a download: the stored French original, or an English copy rendered now."""
    is_invoice = isinstance(document, Invoice)
    if language == "en":
        if is_invoice:
            pdf = documents.render_invoice_pdf(invoice=document, language="en")
        else:
            pdf = documents.render_credit_note_pdf(credit_note=document, language="en")
        response = HttpResponse(pdf, content_type="application/pdf")
        response["Content-Disposition"] = f'attachment; filename="{document.number}-en.pdf"'
        return response
    if is_invoice:
        documents.ensure_invoice_pdf(invoice=document)
    else:
        documents.ensure_credit_note_pdf(credit_note=document)
    return FileResponse(document.pdf.open("rb"), as_attachment=True, filename=f"{document.number}.pdf",
                        content_type="application/pdf")


def _language(request) -> str:
    return "en" if request.GET.get("lang") == "en" else "fr"


class BillingMixin:
    """Pages about the partner's current subscription."""

    def current_subscription(self) -> Subscription:
        subscription = services.current_subscription(self.partner)
        if subscription is None:
            raise services.NoSubscription(_("You have no subscription: choose a plan first."))
        return subscription


# --- The billing page --------------------------------------------------------------------------


class BillingView(PortalPage, TemplateView):
    template_name = "subscriptions/billing.html"

    def get_context_data(self, **kwargs):
        subscription = services.current_subscription(self.partner)
        level, reason = standing.evaluate(partner=self.partner)
        plans = services.offered_plans()
        today = periods.today()
        return super().get_context_data(
            subscription=subscription,
            next_invoice=selectors.next_invoice(subscription=subscription) if subscription else None,
            standing_level=level,
            standing_label=Standing.Level(level).label,
            standing_reason=reason,
            plans=plans,
            other_plans=[plan for plan in plans if subscription and plan.pk != subscription.plan_id],
            subscribe_form=SubscribeForm(initial={"coupon_code": self.request.GET.get("offer", "")}),
            period_last=subscription.current_period_end - ONE_DAY if subscription else None,
            recent_invoices=_with_last_day(selectors.partner_invoices(self.partner)[:5]),
            transition_date=settings.BIGSTOCK_TRANSITION_DATE,
            before_transition=today < settings.BIGSTOCK_TRANSITION_DATE,
            bank=settings.BIGSTOCK_BANK,
            suggestion=growth.current_suggestion(partner=self.partner),
            **kwargs,
        )


class BillingAction(BillingMixin, PortalAction):
    required_permission = "manage_billing"
    redirect_to = "subscriptions:billing"


class SubscribeView(BillingAction):
    def perform(self):
        form = SubscribeForm(self.request.POST)
        if not form.is_valid():
            raise DomainError(_("Choose one of the plans offered."))
        plan = form.cleaned_data["plan"]
        services.subscribe(partner=self.partner, plan=plan, actor=self.actor, rail=Subscription.Rail.MANUAL,
                           coupon_code=form.cleaned_data["coupon_code"])
        return _("You are subscribed to the %(plan)s plan. Your first invoice is below, payable by bank transfer.") % {
            "plan": plan.name}


class ChangePlanView(BillingMixin, PortalPage, TemplateView):
    """GET: what the change costs, line by line. POST: do it."""

    required_permission = "manage_billing"
    template_name = "subscriptions/change_plan.html"

    def get(self, request, plan_id):
        plan = get_object_or_404(Plan, pk=plan_id)
        try:
            subscription = self.current_subscription()
            preview = services.preview_change(subscription=subscription, plan=plan)
        except DomainError as error:
            self.domain_error(error)
            return redirect("subscriptions:billing")
        return self.render_to_response(self.get_context_data(subscription=subscription, plan=plan, preview=preview))

    def post(self, request, plan_id):
        plan = get_object_or_404(Plan, pk=plan_id)
        try:
            subscription = services.change_plan(subscription=self.current_subscription(), plan=plan, actor=self.actor)
        except DomainError as error:
            self.domain_error(error)
            return redirect("subscriptions:billing")
        if subscription.plan_id == plan.pk:
            messages.success(request, _("You are now on the %(plan)s plan. The invoice for the rest of the month "
                                        "is in your invoices.") % {"plan": plan.name})
        else:
            messages.success(request, _("Your plan changes to %(plan)s on %(date)s.") % {
                "plan": plan.name, "date": formats.date_format(subscription.current_period_end)})
        return redirect("subscriptions:billing")


class UndoChangeView(BillingAction):
    def perform(self):
        services.undo_scheduled_change(subscription=self.current_subscription(), actor=self.actor)
        return _("The plan change is cancelled: you keep your current plan.")


class CancelView(BillingMixin, PortalPage, TemplateView):
    """GET: what cancelling means, and a confirm button. POST: cancel at the end of the period."""

    required_permission = "manage_billing"
    template_name = "subscriptions/cancel.html"

    def get(self, request):
        try:
            subscription = self.current_subscription()
        except DomainError as error:
            self.domain_error(error)
            return redirect("subscriptions:billing")
        return self.render_to_response(self.get_context_data(subscription=subscription))

    def post(self, request):
        try:
            subscription = services.cancel_subscription(subscription=self.current_subscription(), actor=self.actor)
        except DomainError as error:
            self.domain_error(error)
        else:
            messages.success(request, _("Your subscription ends on %(date)s. You can resume it until then.") % {
                "date": formats.date_format(subscription.current_period_end)})
        return redirect("subscriptions:billing")


class ResumeView(BillingAction):
    def perform(self):
        services.resume_subscription(subscription=self.current_subscription(), actor=self.actor)
        return _("Your subscription continues.")


# --- Invoices and credit notes ---------------------------------------------------------------


class InvoicesView(PortalPage, ListView):
    template_name = "subscriptions/invoices.html"
    context_object_name = "invoices"
    paginate_by = INVOICES_PER_PAGE

    def get_queryset(self):
        return selectors.partner_invoices(self.partner)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(credit_notes=selectors.partner_credit_notes(self.partner), **kwargs)
        context["invoices"] = _with_last_day(context["object_list"])
        return context


class InvoiceView(PortalPage, DetailView):
    template_name = "subscriptions/invoice.html"
    context_object_name = "invoice"
    slug_field = slug_url_kwarg = "public_id"

    def get_queryset(self):
        return selectors.partner_invoices(self.partner).prefetch_related("lines", "timeline", "payments",
                                                                         "credit_notes")

    def get_context_data(self, **kwargs):
        invoice = self.object
        is_transfer = invoice.subscription.rail == Subscription.Rail.MANUAL
        return super().get_context_data(
            bank=settings.BIGSTOCK_BANK if is_transfer else None,
            period_last=invoice.period_end - ONE_DAY,
            **kwargs,
        )


class InvoicePdfView(PartnerPortalMixin, View):
    def get(self, request, public_id):
        invoice = get_object_or_404(selectors.partner_invoices(self.partner), public_id=public_id)
        return pdf_response(invoice, language=_language(request))


class CreditNotePdfView(PartnerPortalMixin, View):
    def get(self, request, public_id):
        credit_note = get_object_or_404(selectors.partner_credit_notes(self.partner), public_id=public_id)
        return pdf_response(credit_note, language=_language(request))
