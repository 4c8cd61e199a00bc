"""Staff screens for the shared building blocks: the event outbox and webhook deliveries.

Logs are read-only: events and attempts are history. Endpoints are the partner's settings and
change only through the partner (portal, API), where role rules and the audit log apply.
"""

from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from . import webhooks
from .models import PartnerEvent, WebhookAttempt, WebhookDelivery, WebhookEndpoint


class ReadOnlyAdminMixin:
    """Staff may look, not add, change or delete (an append-only log, or rows owned by a service)."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnlyModelAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    pass


@admin.register(PartnerEvent)
class PartnerEventAdmin(ReadOnlyModelAdmin):
    list_display = ["created_at", "type", "partner", "public_id"]
    list_filter = ["type"]
    list_select_related = ["partner"]
    search_fields = ["public_id", "type", "partner__legal_name", "partner__public_id"]
    date_hierarchy = "created_at"
    fields = ["public_id", "partner", "type", "created_at", "payload"]


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(ReadOnlyModelAdmin):
    list_display = ["url", "partner", "enabled", "failing_since", "created_at"]
    list_filter = ["enabled"]
    list_select_related = ["partner"]
    search_fields = ["url", "public_id", "partner__legal_name", "partner__public_id"]
    # Never the signing secret.
    fields = ["public_id", "partner", "url", "description", "event_types", "enabled", "failing_since",
              "disabled_reason_text", "created_at", "updated_at"]
    readonly_fields = fields

    @admin.display(description=_("reason for disabling"))
    def disabled_reason_text(self, endpoint):
        return endpoint.disabled_reason_text or "—"


class WebhookAttemptInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = WebhookAttempt
    fields = ["attempted_at", "status_code", "duration_ms", "error", "response_body"]
    readonly_fields = fields
    extra = 0


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyModelAdmin):
    list_display = ["created_at", "event", "endpoint", "partner", "status", "attempt_count", "last_status_code"]
    list_filter = ["status"]
    list_select_related = ["partner", "endpoint", "event"]
    search_fields = ["public_id", "event__public_id", "event__type", "endpoint__url", "partner__legal_name"]
    date_hierarchy = "created_at"
    fields = ["public_id", "partner", "endpoint", "event", "status", "attempt_count", "next_attempt_at",
              "last_status_code", "created_at", "updated_at"]
    inlines = [WebhookAttemptInline]
    actions = ["redeliver"]

    @admin.action(description=_("Deliver again now"), permissions=["redeliver"])
    def redeliver(self, request, queryset):
        for delivery in queryset:
            webhooks.redeliver(delivery=delivery)
        count = len(queryset)
        self.message_user(
            request,
            ngettext("%(count)d delivery queued again.", "%(count)d deliveries queued again.", count) % {"count": count},
            messages.SUCCESS,
        )

    def has_redeliver_permission(self, request):
        return request.user.has_perm("bigstock.change_webhookdelivery")
