"""Staff screens of the Stripe rail: payment attempts, refunds, stored webhook events (replay one),
mismatches and alerts, customers and saved methods. Everything is read-only: rows are written by
``subscriptions.stripe``; actions call it. Registered from ``SubscriptionsConfig.ready``."""

from django.contrib import admin, messages
from django.utils import timezone
from django.utils.translation import gettext_lazy, ngettext

from bigstock.admin import ReadOnlyModelAdmin
from bigstock.money import format_cents

from .models import (
    PaymentAttempt,
    StripeCustomer,
    StripeEvent,
    StripeIssue,
    StripePaymentMethod,
    StripeRefund,
)
from .stripe import collection, gateway, notify, webhooks


@admin.register(PaymentAttempt)
class PaymentAttemptAdmin(ReadOnlyModelAdmin):
    list_display = ["created_at", "invoice", "number", "partner", "amount", "status", "stripe_payment_intent_id",
                    "failure_code", "decline_code", "next_retry_at"]
    list_filter = ["status", "is_hard_decline", "payment_method__kind"]
    list_select_related = ["invoice", "partner"]
    search_fields = ["public_id", "stripe_payment_intent_id", "stripe_charge_id", "invoice__number",
                     "partner__legal_name", "partner__public_id"]
    date_hierarchy = "created_at"
    fields = ["public_id", "partner", "invoice", "number", "amount_cents", "currency", "status", "payment_method",
              "stripe_payment_intent_id", "stripe_charge_id", "failure_code", "decline_code", "failure_message",
              "is_hard_decline", "error", "next_retry_at", "reconcile_count", "created_at", "updated_at", "settled_at"]
    actions = ["read_from_stripe"]

    @admin.display(description=gettext_lazy("amount"), ordering="amount_cents")
    def amount(self, attempt):
        return format_cents(attempt.amount_cents)

    @admin.action(description=gettext_lazy("Read the selected attempts from Stripe now"))
    def read_from_stripe(self, request, queryset):
        for attempt in queryset.filter(status__in=PaymentAttempt.OPEN_STATUSES):
            try:
                collection.reconcile(attempt_id=attempt.pk, now=timezone.now())
            except gateway.StripeError as error:
                self.message_user(request, f"{attempt}: {gateway.describe(error)}", messages.ERROR)
        self.message_user(request, gettext_lazy("Open attempts read from Stripe."), messages.SUCCESS)


@admin.register(StripeRefund)
class StripeRefundAdmin(ReadOnlyModelAdmin):
    list_display = ["created_at", "credit_note", "partner", "amount", "status", "stripe_refund_id", "failure_reason"]
    list_filter = ["status"]
    list_select_related = ["credit_note", "partner"]
    search_fields = ["public_id", "stripe_refund_id", "credit_note__number", "partner__legal_name"]
    fields = ["public_id", "partner", "credit_note", "attempt", "amount_cents", "status", "stripe_refund_id",
              "failure_reason", "created_at", "updated_at"]

    @admin.display(description=gettext_lazy("amount"), ordering="amount_cents")
    def amount(self, refund):
        return format_cents(refund.amount_cents)


@admin.register(StripeEvent)
class StripeEventAdmin(ReadOnlyModelAdmin):
    list_display = ["received_at", "type", "stripe_id", "object_id", "status", "partner", "process_count"]
    list_filter = ["status", "type"]
    list_select_related = ["partner"]
    search_fields = ["stripe_id", "object_id", "type", "partner__legal_name"]
    date_hierarchy = "received_at"
    fields = ["stripe_id", "type", "api_version", "livemode", "object_id", "status", "error", "process_count",
              "partner", "received_at", "processed_at", "payload"]
    actions = ["replay"]

    @admin.action(description=gettext_lazy("Process the selected events again (re-reads each object from Stripe)"))
    def replay(self, request, queryset):
        done = 0
        for event in queryset:
            event = webhooks.process(event_id=event.pk, replay=True)
            if event.status == StripeEvent.Status.FAILED:
                self.message_user(request, f"{event}: {event.error}", messages.ERROR)
            else:
                done += 1
        if done:
            self.message_user(request, ngettext("%(count)d event processed again.", "%(count)d events processed again.",
                                                done) % {"count": done}, messages.SUCCESS)


@admin.register(StripeIssue)
class StripeIssueAdmin(ReadOnlyModelAdmin):
    list_display = ["created_at", "kind", "partner", "invoice", "stripe_object_id", "message", "resolved_at"]
    list_filter = [("resolved_at", admin.EmptyFieldListFilter), "kind"]
    list_select_related = ["partner", "invoice"]
    search_fields = ["stripe_object_id", "message", "partner__legal_name", "invoice__number"]
    date_hierarchy = "created_at"
    fields = ["kind", "message", "stripe_object_id", "partner", "invoice", "attempt", "event", "created_at",
              "resolved_at", "resolved_by"]
    actions = ["mark_resolved"]

    @admin.action(description=gettext_lazy("Mark the selected issues as resolved"))
    def mark_resolved(self, request, queryset):
        count = notify.resolve(issues=queryset, by=request.user)
        self.message_user(request, ngettext("%(count)d issue resolved.", "%(count)d issues resolved.", count)
                          % {"count": count}, messages.SUCCESS)


@admin.register(StripeCustomer)
class StripeCustomerAdmin(ReadOnlyModelAdmin):
    list_display = ["stripe_id", "partner", "synced_at", "deleted_at"]
    list_select_related = ["partner"]
    search_fields = ["stripe_id", "partner__legal_name", "partner__public_id"]
    fields = ["stripe_id", "partner", "details_hash", "synced_at", "deleted_at", "created_at"]


@admin.register(StripePaymentMethod)
class StripePaymentMethodAdmin(ReadOnlyModelAdmin):
    list_display = ["partner", "kind", "label", "expiry", "mandate_reference", "created_at", "removed_at"]
    list_filter = ["kind", ("removed_at", admin.EmptyFieldListFilter)]
    list_select_related = ["partner"]
    search_fields = ["stripe_id", "mandate_reference", "partner__legal_name", "partner__public_id"]
    fields = ["partner", "customer", "stripe_id", "kind", "brand", "last4", "exp_month", "exp_year", "country",
              "mandate_reference", "mandate_accepted_at", "created_at", "removed_at"]
