"""Staff screens for orders: the order list, the hold queue, picking lists, packing, shipment
and tracking entry, and the processing delays dashboard.

Orders change only through ``orders.services`` (state machine, timeline, audit log, events):
the order pages are read-only, and every staff operation is an action here or a small form in
``orders.staff_views``, served under ``/admin/orders/...`` by ``get_urls``.
"""

from django.contrib import admin
from django.urls import path
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from bigstock.admin import ReadOnlyAdminMixin, ReadOnlyModelAdmin
from bigstock.money import format_cents

from . import selectors, services, staff_views
from .models import (
    CheckResult,
    Order,
    OrderEvent,
    OrderLine,
    Reservation,
    Shipment,
    ShipmentLine,
    Status,
    TrackingEvent,
)
from .states import CANCELLABLE


class OrderLineInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = OrderLine
    fields = ["sku", "quantity", "quantity_reserved", "quantity_shipped", "unit_price_cents"]
    readonly_fields = fields
    extra = 0


class CheckResultInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = CheckResult
    fields = ["run", "check_name", "passed", "severity", "code", "message", "action", "created_at"]
    readonly_fields = fields
    extra = 0
    verbose_name_plural = _("pre-shipment checks")

    @admin.display(description=_("message"))
    def message(self, result):
        return result.message

    @admin.display(description=_("what to do"))
    def action(self, result):
        return result.action


class ReservationInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = Reservation
    fields = ["line", "warehouse_code", "quantity", "state"]
    readonly_fields = fields
    extra = 0


class ShipmentInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = Shipment
    fields = ["public_id", "carrier", "service", "tracking_number", "weight_g", "shipped_at", "delivered_at"]
    readonly_fields = fields
    extra = 0
    show_change_link = True


class OrderEventInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = OrderEvent
    fields = ["created_at", "from_status", "to_status", "actor_label", "reason_shown"]
    readonly_fields = fields
    extra = 0
    verbose_name_plural = _("timeline")

    @admin.display(description=_("reason"))
    def reason_shown(self, event):
        return event.reason_text


@admin.register(Order)
class OrderAdmin(ReadOnlyModelAdmin):
    list_display = ["reference", "public_id", "partner", "status", "dispatch_state", "queue", "submitted_at",
                    "checked_at", "shipped_at", "subtotal"]
    list_filter = ["status", "dispatch_state", "queue", ("partner", admin.RelatedOnlyFieldListFilter),
                   "carrier_service", "source"]
    list_select_related = ["partner"]
    search_fields = ["=public_id", "reference", "partner__legal_name", "partner__trade_name", "=partner__public_id"]
    date_hierarchy = "submitted_at"
    ordering = ["-submitted_at"]
    fieldsets = [
        (None, {"fields": ["public_id", "reference", "partner", "status", "source", "created_by_label", "notes"]}),
        (_("Delivery address"), {"fields": ["ship_to_name", "ship_to_company", "ship_to_line1", "ship_to_line2",
                                            "ship_to_postcode", "ship_to_city", "ship_to_country", "ship_to_phone",
                                            "ship_to_email", "carrier_service", "backorder"]}),
        (_("Processing"), {"fields": ["dispatch_state", "waiting_reason", "queue", "dispatched_at", "submitted_at",
                                      "checked_at", "shipped_at", "delivered_at", "cancelled_at", "delays"]}),
        (_("Totals"), {"fields": ["currency", "subtotal"]}),
    ]
    readonly_fields = ["waiting_reason", "delays", "subtotal"]
    inlines = [OrderLineInline, CheckResultInline, ReservationInline, ShipmentInline, OrderEventInline]
    actions = ["start_picking", "mark_packed"]

    @admin.display(description=_("subtotal excl. VAT"), ordering="subtotal_cents")
    def subtotal(self, order):
        return format_cents(order.subtotal_cents)

    @admin.display(description=_("why it waits"))
    def waiting_reason(self, order):
        return selectors.held_for_standing_reason(order) or "—"

    @admin.display(description=_("delays"))
    def delays(self, order):
        delays = selectors.order_delays(order)
        return format_html(
            "{}: {} · {}: {}", _("checks done after"), staff_views.format_duration(delays["checked"]),
            _("shipped after"), staff_views.format_duration(delays["shipped"]))

    def has_fulfil_permission(self, request):
        return request.user.has_perm("orders.change_order")

    @admin.action(description=_("Start picking the selected ready orders"), permissions=["fulfil"])
    def start_picking(self, request, queryset):
        staff_views._apply(request, self, list(queryset.filter(status=Status.READY)), services.start_picking,
                           lambda n: ngettext("Picking started for %(count)d order.",
                                              "Picking started for %(count)d orders.", n))

    @admin.action(description=_("Mark the selected picked orders as packed"), permissions=["fulfil"])
    def mark_packed(self, request, queryset):
        staff_views._apply(request, self, list(queryset.filter(status=Status.PICKING)), services.mark_packed,
                           lambda n: ngettext("%(count)d order packed.", "%(count)d orders packed.", n))

    def get_urls(self):
        return [
            path("holds/", self._view(staff_views.hold_queue), name="orders_hold_queue"),
            path("picking/", self._view(staff_views.picking), name="orders_picking"),
            path("delays/", self._view(staff_views.delays_dashboard), name="orders_delays"),
            path("<path:object_id>/release/", self._view(staff_views.release_hold), name="orders_order_release"),
            path("<path:object_id>/cancel/", self._view(staff_views.cancel_order), name="orders_order_cancel"),
            path("<path:object_id>/ship/", self._view(staff_views.create_shipment), name="orders_order_ship"),
            *super().get_urls(),
        ]

    def _view(self, function):
        def view(request, *args, **kwargs):
            return function(request, self, *args, **kwargs)

        return self.admin_site.admin_view(view)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        order = self.get_object(request, object_id)
        extra_context = {**(extra_context or {}), "can_fulfil": request.user.has_perm("orders.change_order"),
                         "is_cancellable": order is not None and order.status in CANCELLABLE}
        return super().change_view(request, object_id, form_url, extra_context)


class ShipmentLineInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = ShipmentLine
    fields = ["line", "quantity"]
    readonly_fields = fields
    extra = 0


class TrackingEventInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = TrackingEvent
    fields = ["occurred_at", "kind", "description", "location", "source"]
    readonly_fields = fields
    extra = 0


@admin.register(Shipment)
class ShipmentAdmin(ReadOnlyModelAdmin):
    list_display = ["tracking_number", "carrier", "service", "order", "partner", "warehouse_code", "shipped_at",
                    "delivered_at"]
    list_filter = ["carrier", "service", "warehouse_code", ("delivered_at", admin.EmptyFieldListFilter)]
    list_select_related = ["order", "partner"]
    search_fields = ["=tracking_number", "=public_id", "=order__public_id", "order__reference"]
    date_hierarchy = "shipped_at"
    fields = ["public_id", "order", "partner", "warehouse_code", "carrier", "service", "tracking_number",
              "tracking_url", "weight_g", "shipped_at", "delivered_at"]
    inlines = [ShipmentLineInline, TrackingEventInline]

    def get_urls(self):
        def track(request, object_id):
            return staff_views.add_tracking_event(request, self, object_id)

        return [
            path("<path:object_id>/track/", self.admin_site.admin_view(track), name="orders_shipment_track"),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = {**(extra_context or {}), "can_track": request.user.has_perm("orders.change_shipment")}
        return super().change_view(request, object_id, form_url, extra_context)
