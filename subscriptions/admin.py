"""Staff screens for plans, subscriptions, invoices, payments and credit notes, and the billing dashboard.

Money documents are written only by ``subscriptions.services`` (numbering, totals, timeline,
audit log, events): here invoices, credit notes and subscriptions are read-only, and every
staff operation is an action or a small form that calls one service.
"""

from decimal import Decimal

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from bigstock.admin import ReadOnlyAdminMixin, ReadOnlyModelAdmin
from bigstock.errors import DomainError
from bigstock.money import format_cents
from partners.admin import staff_actor

from . import campaign, periods, selectors, services, tasks
from .forms import RecordPaymentForm
from .models import (
    Coupon,
    CreditNote,
    Invoice,
    InvoiceEvent,
    InvoiceLine,
    Payment,
    Plan,
    Standing,
    Subscription,
    TransitionCampaign,
)

GRACE_EXTENSION_DAYS = 7


def _tell(request, modeladmin, count: int, message: str, level=messages.SUCCESS) -> None:
    """``message`` (an ``ngettext`` with ``%(count)d``) when ``count`` is not zero."""
    if count:
        modeladmin.message_user(request, message % {"count": count}, level)


# --- Plans and offers -------------------------------------------------------------------------


# A subscriber's conditions never change under them: once a version has subscribers, these are frozen.
PLAN_CONDITIONS = ["price_cents", "included_orders", "team_seats", "api_rate_per_min", "wholesale_discount",
                   "support_first_response_hours", "support_resolution_hours", "priority_weight"]


@admin.register(Plan)
class PlanAdmin(admin.ModelAdmin):
    list_display = ["code", "version", "name_fr", "price", "included_orders", "team_seats", "is_public",
                    "archived_at", "subscriber_count"]
    list_filter = ["is_public", ("archived_at", admin.EmptyFieldListFilter), "code"]
    search_fields = ["code", "name_fr", "name_en"]
    ordering = ["code", "-version"]
    actions = ["create_new_version", "archive"]
    fieldsets = [
        (None, {
            "fields": ["code", "version", "is_public", "archived_at"],
            "description": gettext_lazy(
                "A plan is versioned: its conditions are frozen once someone subscribes to it. To change a "
                "price, select the plan in the list and run “Create a new version”: the copy is not offered "
                "until you tick “offered to partners”; from then on new subscribers get it, and existing "
                "subscribers keep their version."),
        }),
        (gettext_lazy("Names"), {"fields": ["name_fr", "name_en", "description_fr", "description_en"]}),
        (gettext_lazy("Conditions"), {"fields": PLAN_CONDITIONS}),
    ]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(subscriber_count=Count("subscriptions"))

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ["archived_at"]
        frozen = PLAN_CONDITIONS if obj.subscriptions.exists() else []
        return ["code", "version", "archived_at", *frozen]

    @admin.display(description=gettext_lazy("price excl. VAT"), ordering="price_cents")
    def price(self, plan):
        return format_cents(plan.price_cents)

    @admin.display(description=gettext_lazy("subscriptions"), ordering="subscriber_count")
    def subscriber_count(self, plan):
        return plan.subscriber_count

    @admin.action(description=gettext_lazy("Create a new version (for a price change)"), permissions=["add"])
    def create_new_version(self, request, queryset):
        actor = staff_actor(request)
        copies = [services.create_plan_version(plan=plan, actor=actor) for plan in queryset]
        if len(copies) == 1:
            self.message_user(request, _("Version %(version)d of %(code)s created, not offered yet: set its "
                                         "conditions, then tick “offered to partners”.")
                              % {"version": copies[0].version, "code": copies[0].code}, messages.SUCCESS)
            return HttpResponseRedirect(reverse("admin:subscriptions_plan_change", args=[copies[0].pk]))
        _tell(request, self, len(copies), ngettext("%(count)d new plan version created, not offered yet.",
                                                   "%(count)d new plan versions created, not offered yet.",
                                                   len(copies)))
        return None

    @admin.action(description=gettext_lazy("Archive (stop offering; subscribers keep theirs)"),
                  permissions=["change"])
    def archive(self, request, queryset):
        actor = staff_actor(request)
        plans = [plan for plan in queryset if plan.archived_at is None]
        for plan in plans:
            services.archive_plan(plan=plan, actor=actor)
        _tell(request, self, len(plans), ngettext("%(count)d plan archived.", "%(count)d plans archived.",
                                                  len(plans)))


@admin.register(Coupon)
class CouponAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "percent_off", "amount_off_cents", "duration_months", "max_redemptions",
                    "redeem_by", "redemption_count"]
    search_fields = ["code", "name"]
    filter_horizontal = ["plans"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(redemption_count=Count("redemptions"))

    @admin.display(description=gettext_lazy("redemptions"), ordering="redemption_count")
    def redemption_count(self, coupon):
        return coupon.redemption_count


@admin.register(TransitionCampaign)
class TransitionCampaignAdmin(admin.ModelAdmin):
    list_display = ["name", "transition_date", "coupon", "is_active"]
    readonly_fields = ["progress"]

    @admin.display(description=gettext_lazy("progress"))
    def progress(self, obj):
        if obj.pk is None:
            return "—"
        counts = campaign.progress(campaign=obj)
        return _("%(notified)d told, %(subscribed)d subscribed, %(undecided)d still without a plan") % counts


# --- Subscriptions and the dashboard ----------------------------------------------------------


@admin.register(Subscription)
class SubscriptionAdmin(ReadOnlyModelAdmin):
    change_list_template = "admin/subscriptions/subscription/change_list.html"
    list_display = ["partner", "plan", "status", "period", "rail", "cancel_at_period_end", "scheduled_plan",
                    "grace_until"]
    list_filter = ["status", "rail", "cancel_at_period_end", "plan__code"]
    list_select_related = ["partner", "plan", "scheduled_plan"]
    search_fields = ["public_id", "partner__legal_name", "partner__trade_name", "partner__public_id"]
    fields = ["public_id", "partner", "plan", "scheduled_plan", "status", "rail", "started_on",
              "current_period_start", "current_period_end", "cancel_at_period_end", "past_due_since",
              "grace_until", "canceled_at", "created_at", "updated_at"]
    actions = ["extend_grace"]

    @admin.display(description=gettext_lazy("current period"), ordering="current_period_start")
    def period(self, subscription):
        return f"{subscription.current_period_start:%d/%m/%Y} → {subscription.current_period_end:%d/%m/%Y}"

    @admin.action(description=gettext_lazy("Extend the grace period by 7 days"), permissions=["extend_grace"])
    def extend_grace(self, request, queryset):
        actor = staff_actor(request)
        extended = 0
        for subscription in queryset.select_related("partner"):
            try:
                services.extend_grace(subscription=subscription, days=GRACE_EXTENSION_DAYS, actor=actor)
            except DomainError as error:
                self.message_user(request, f"{subscription.partner}: {error.message}", messages.WARNING)
            else:
                extended += 1
        _tell(request, self, extended, ngettext("%(count)d grace period extended by 7 days.",
                                                "%(count)d grace periods extended by 7 days.", extended))

    def has_extend_grace_permission(self, request):
        return request.user.has_perm("subscriptions.change_subscription")

    def get_urls(self):
        return [
            path("dashboard/", self.admin_site.admin_view(self.dashboard_view), name="subscriptions_dashboard"),
            *super().get_urls(),
        ]

    def dashboard_view(self, request):
        """MRR, partners by standing, overdue money and this month's invoices."""
        data = selectors.dashboard(today=periods.today())
        largest = max((count for _level, _label, count in data.standings), default=0) or 1
        context = {
            **self.admin_site.each_context(request),
            "title": _("Billing dashboard"),
            "opts": self.model._meta,
            "dashboard": data,
            "standings": [(level, label, count, round(count * 100 / largest))
                          for level, label, count in data.standings],
        }
        return TemplateResponse(request, "admin/subscriptions/dashboard.html", context)


# --- Invoices -----------------------------------------------------------------------------------


class OverdueFilter(admin.SimpleListFilter):
    title = gettext_lazy("overdue")
    parameter_name = "overdue"

    def lookups(self, request, model_admin):
        return [("yes", _("Overdue")), ("no", _("Not overdue"))]

    def queryset(self, request, queryset):
        overdue = {"status": Invoice.Status.OPEN, "due_date__lt": periods.today()}
        if self.value() == "yes":
            return queryset.filter(**overdue)
        if self.value() == "no":
            return queryset.exclude(**overdue)
        return queryset


class InvoiceLineInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = InvoiceLine
    fields = ["description", "quantity", "unit_price_cents", "amount_cents", "period_start", "period_end"]
    readonly_fields = fields
    extra = 0


class PaymentInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = Payment
    fields = ["received_on", "amount_cents", "method", "rail", "reference", "recorded_by", "created_at"]
    readonly_fields = fields
    extra = 0


class CreditNoteInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = CreditNote
    fields = ["number", "issue_date", "reason", "description", "total_cents", "refunded_cents"]
    readonly_fields = fields
    extra = 0
    show_change_link = True


class InvoiceEventInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = InvoiceEvent
    fields = ["created_at", "kind", "shown"]
    readonly_fields = fields
    extra = 0

    @admin.display(description=gettext_lazy("message"))
    def shown(self, event):
        return event.text


@admin.register(Invoice)
class InvoiceAdmin(ReadOnlyModelAdmin):
    """Read-only: a finalized invoice is frozen by law, and drafts are built by the services from
    the plan. Staff finalize, record payments, cancel through a credit note and resend."""

    change_form_template = "admin/subscriptions/invoice/change_form.html"
    list_display = ["__str__", "partner", "kind", "status", "period_start", "issue_date", "due_date", "total",
                    "balance", "is_overdue"]
    list_filter = ["status", OverdueFilter, "kind", "vat_regime"]
    list_select_related = ["partner"]
    search_fields = ["number", "public_id", "partner__legal_name", "partner__trade_name", "partner__public_id"]
    date_hierarchy = "issue_date"
    fields = ["public_id", "number", "partner", "subscription", "kind", "status", "period_start", "period_end",
              "issue_date", "due_date", "currency", "vat_regime", "vat_rate", "subtotal_cents", "vat_cents",
              "total_cents", "amount_paid_cents", "amount_credited_cents", "balance", "last_reminder_step",
              "finalized_at", "paid_at", "pdf", "seller", "buyer", "created_at"]
    inlines = [InvoiceLineInline, PaymentInline, CreditNoteInline, InvoiceEventInline]
    actions = ["finalize_drafts", "cancel_with_credit_note", "resend_email"]

    @admin.display(description=gettext_lazy("total"), ordering="total_cents")
    def total(self, invoice):
        return format_cents(invoice.total_cents)

    @admin.display(description=gettext_lazy("balance"))
    def balance(self, invoice):
        return format_cents(invoice.balance_cents)

    @admin.display(description=gettext_lazy("overdue"), boolean=True)
    def is_overdue(self, invoice):
        return invoice.is_overdue

    def has_billing_permission(self, request):
        return request.user.has_perm("subscriptions.change_invoice")

    @admin.action(description=gettext_lazy("Finalize the selected drafts (number, PDF, email)"),
                  permissions=["billing"])
    def finalize_drafts(self, request, queryset):
        drafts = list(queryset.filter(status=Invoice.Status.DRAFT))
        for invoice in drafts:
            services.finalize_invoice(invoice=invoice)
        _tell(request, self, len(drafts), ngettext("%(count)d invoice finalized.", "%(count)d invoices finalized.",
                                                   len(drafts)))
        skipped = queryset.count() - len(drafts)
        _tell(request, self, skipped, ngettext("%(count)d invoice was not a draft.",
                                               "%(count)d invoices were not drafts.", skipped), messages.INFO)

    @admin.action(description=gettext_lazy("Cancel through a credit note (for what is not credited yet)"),
                  permissions=["billing"])
    def cancel_with_credit_note(self, request, queryset):
        actor = staff_actor(request)
        notes = []
        for invoice in queryset.select_related("partner"):
            try:
                notes.append(services.cancel_invoice(invoice=invoice, actor=actor))
            except DomainError as error:
                self.message_user(request, f"{invoice}: {error.message}", messages.ERROR)
        if notes:
            self.message_user(request, ngettext("Credit note %(numbers)s issued.", "Credit notes %(numbers)s issued.",
                                                len(notes)) % {"numbers": ", ".join(n.number for n in notes)},
                              messages.SUCCESS)

    @admin.action(description=gettext_lazy("Email the invoice again to the partner"), permissions=["billing"])
    def resend_email(self, request, queryset):
        finalized = list(queryset.exclude(status=Invoice.Status.DRAFT).values_list("pk", flat=True))
        for invoice_id in finalized:
            tasks.send_invoice.delay(invoice_id, resend=True)
        _tell(request, self, len(finalized), ngettext("%(count)d invoice queued for sending.",
                                                      "%(count)d invoices queued for sending.", len(finalized)))

    def get_urls(self):
        return [
            path("<path:object_id>/record-payment/", self.admin_site.admin_view(self.record_payment_view),
                 name="subscriptions_invoice_record_payment"),
            *super().get_urls(),
        ]

    def record_payment_view(self, request, object_id):
        """Money received for one invoice (a bank transfer seen on the statement, a cheque)."""
        if not request.user.has_perm("subscriptions.add_payment"):
            raise PermissionDenied
        invoice = get_object_or_404(Invoice.objects.select_related("partner"), pk=object_id)
        change_url = reverse("admin:subscriptions_invoice_change", args=[invoice.pk])
        form = RecordPaymentForm(request.POST or None, initial={"amount": Decimal(max(invoice.balance_cents, 0)).scaleb(-2)})
        if request.method == "POST" and form.is_valid():
            try:
                payment = services.record_payment(
                    invoice=invoice, amount_cents=form.amount_cents, received_on=form.cleaned_data["received_on"],
                    reference=form.cleaned_data["reference"], method=form.cleaned_data["method"],
                    actor=staff_actor(request),
                )
            except DomainError as error:
                self.message_user(request, error.message, messages.ERROR)
            else:
                invoice.refresh_from_db()
                self.message_user(request, _("Payment of %(amount)s recorded on %(invoice)s: %(status)s, balance "
                                             "%(balance)s.") % {
                    "amount": format_cents(payment.amount_cents), "invoice": invoice,
                    "status": invoice.get_status_display(), "balance": format_cents(invoice.balance_cents)},
                    messages.SUCCESS)
                return HttpResponseRedirect(change_url)
        context = {
            **self.admin_site.each_context(request),
            "title": _("Record a payment for %(invoice)s") % {"invoice": invoice},
            "opts": self.model._meta,
            "original": invoice,
            "invoice": invoice,
            "form": form,
            "media": self.media + form.media,
            "change_url": change_url,
        }
        return TemplateResponse(request, "admin/subscriptions/invoice/record_payment.html", context)


# --- Credit notes, payments, standing -----------------------------------------------------------


@admin.register(CreditNote)
class CreditNoteAdmin(ReadOnlyModelAdmin):
    list_display = ["number", "partner", "invoice", "reason", "issue_date", "total", "refunded_cents"]
    list_filter = ["reason"]
    list_select_related = ["partner", "invoice"]
    search_fields = ["number", "public_id", "invoice__number", "partner__legal_name", "partner__public_id"]
    date_hierarchy = "issue_date"
    fields = ["public_id", "number", "partner", "invoice", "reason", "description", "issue_date", "subtotal_cents",
              "vat_cents", "total_cents", "refunded_cents", "pdf", "created_at"]

    @admin.display(description=gettext_lazy("total"), ordering="total_cents")
    def total(self, note):
        return format_cents(note.total_cents)


@admin.register(Payment)
class PaymentAdmin(ReadOnlyModelAdmin):
    list_display = ["received_on", "partner", "invoice", "amount", "method", "rail", "reference", "recorded_by"]
    list_filter = ["method", "rail"]
    list_select_related = ["partner", "invoice", "recorded_by"]
    search_fields = ["reference", "public_id", "invoice__number", "partner__legal_name"]
    date_hierarchy = "received_on"
    fields = ["public_id", "partner", "invoice", "amount_cents", "received_on", "method", "rail", "reference",
              "recorded_by", "created_at"]

    @admin.display(description=gettext_lazy("amount"), ordering="amount_cents")
    def amount(self, payment):
        return format_cents(payment.amount_cents)


@admin.register(Standing)
class StandingAdmin(ReadOnlyModelAdmin):
    list_display = ["partner", "level", "reason", "changed_at"]
    list_filter = ["level"]
    list_select_related = ["partner"]
    search_fields = ["partner__legal_name", "partner__trade_name", "partner__public_id"]
    fields = ["partner", "level", "reason", "changed_at"]
