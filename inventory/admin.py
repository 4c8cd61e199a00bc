"""Staff screens for the catalogue and the stock.

Quantities change only through ``inventory.services`` (the ledger): stock levels show their
numbers read-only and are corrected with the "adjust or count" form, which needs a reason;
movements are history (no add, change or delete); receipts are received with a form or an
action that call ``inventory.receiving``; imports are uploaded here and run in the background.
Catalogue data (names, prices, warehouses) and receipts still expected are edited as usual.
"""

import csv
from urllib.parse import urlencode

from django.apps import apps
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import models
from django.db.models import Count, F, Sum
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import get_language, gettext_lazy, ngettext
from django.utils.translation import gettext as _
from knox.admin import AuthTokenAdmin
from knox.models import AuthToken
from rest_framework.authtoken.admin import TokenProxy

from bigstock.admin import ReadOnlyAdminMixin, ReadOnlyModelAdmin
from bigstock.errors import DomainError
from bigstock.money import format_cents
from partners.admin import staff_actor

from . import imports, receiving, reorder, services
from .forms import ImportForm, ReceiveForm, StockOperationForm
from .models import ImportJob, Product, Receipt, ReceiptLine, StaffToken, StockLevel, StockMovement, Warehouse

ERRORS_SHOWN = 200  # on the import's page; the CSV download has all of them


def _context(modeladmin, request, **extra) -> dict:
    return {**modeladmin.admin_site.each_context(request), "opts": modeladmin.model._meta, **extra}


def _show_on_form(form, error: DomainError) -> None:
    """A refused operation next to its fields, and its message above the form."""
    for field, field_errors in error.fields.items():
        if field in form.fields:
            for message in field_errors:
                form.add_error(field, message)
    form.add_error(None, error.message)


# --- Catalogue ------------------------------------------------------------------------------------


@admin.register(Warehouse)
class WarehouseAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "country", "is_active", "level_count"]
    list_filter = ["is_active", "country"]
    search_fields = ["code", "name"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(level_count=Count("levels"))

    @admin.display(description=gettext_lazy("stock levels"), ordering="level_count")
    def level_count(self, warehouse):
        return warehouse.level_count

    def has_delete_permission(self, request, obj=None):
        return False  # the ledger points to it: deactivate it instead


class StockFilter(admin.SimpleListFilter):
    title = gettext_lazy("stock")
    parameter_name = "stock"

    def lookups(self, request, model_admin):
        return [("in", _("In stock")), ("out", _("Out of stock"))]

    def queryset(self, request, queryset):
        if self.value() == "in":
            return queryset.filter(availability__available__gt=0)
        if self.value() == "out":
            return queryset.exclude(availability__available__gt=0)
        return queryset


class StockLevelInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = StockLevel
    fields = ["warehouse", "on_hand", "reserved", "available", "reorder_point", "reorder_target"]
    readonly_fields = fields
    extra = 0
    show_change_link = True

    @admin.display(description=gettext_lazy("available"))
    def available(self, level):
        return level.available


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    change_form_template = "admin/inventory/product/change_form.html"
    list_display = ["sku", "name_fr", "brand", "category", "price", "available", "is_active"]
    list_filter = ["is_active", StockFilter, "category", "brand", "vat_class"]
    list_select_related = ["availability"]
    search_fields = ["sku", "gtin", "name_fr", "name_en", "brand"]
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    inlines = [StockLevelInline]
    fieldsets = [
        (None, {"fields": ["sku", "public_id", "gtin", "is_active"]}),
        (gettext_lazy("Names"), {"fields": ["name_fr", "name_en", "description_fr", "description_en", "brand",
                                            "category", "image_url"]}),
        (gettext_lazy("Prices"), {"fields": ["wholesale_price_cents", "retail_price_cents", "vat_class"]}),
        (gettext_lazy("Shipping and customs"), {"fields": ["weight_g", "length_mm", "width_mm", "height_mm",
                                                           "country_of_origin", "hs_code"]}),
        (gettext_lazy("Important dates"), {"fields": ["created_at", "updated_at"]}),
    ]

    def get_readonly_fields(self, request, obj=None):
        # Partners key their systems on the SKU, and the feed rows carry it: it never changes.
        return ["public_id", "created_at", "updated_at", *(["sku"] if obj is not None else [])]

    @admin.display(description=gettext_lazy("wholesale price"), ordering="wholesale_price_cents")
    def price(self, product):
        return format_cents(product.wholesale_price_cents)

    @admin.display(description=gettext_lazy("available"), ordering="availability__available")
    def available(self, product):
        availability = getattr(product, "availability", None)
        return availability.available if availability is not None else 0

    def has_delete_permission(self, request, obj=None):
        return False  # the ledger and orders point to it: deactivate it instead

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            return
        fields = {name: form.cleaned_data[name] for name in form.cleaned_data if name in form.base_fields}
        created = services.create_product(**fields)
        obj.pk, obj.public_id, obj._state.adding = created.pk, created.public_id, False

    def get_urls(self):
        return [
            path("<path:object_id>/stock/", self.admin_site.admin_view(self.stock_operation_view),
                 name="inventory_product_stock"),
            *super().get_urls(),
        ]

    def stock_operation_view(self, request, object_id):
        """Adjust or count one product in one warehouse, with the reason kept in the ledger."""
        if not request.user.has_perm("inventory.change_stocklevel"):
            raise PermissionDenied
        product = get_object_or_404(Product, pk=object_id)
        form = StockOperationForm(request.POST or None, initial={"warehouse": request.GET.get("warehouse")})
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                if data["operation"] == StockOperationForm.COUNT:
                    level = services.count(product=product, warehouse=data["warehouse"], counted=data["quantity"],
                                           reason=data["reason"], actor=staff_actor(request))
                else:
                    level = services.adjust(product=product, warehouse=data["warehouse"], delta=data["quantity"],
                                            reason=data["reason"], actor=staff_actor(request))
            except DomainError as error:
                if "delta" in error.fields or "counted" in error.fields:
                    error.fields["quantity"] = error.fields.pop("delta", None) or error.fields.pop("counted")
                _show_on_form(form, error)
            else:
                self.message_user(request, _("%(sku)s in %(warehouse)s: %(on_hand)d on hand, %(available)d "
                                             "available.") % {"sku": product.sku, "warehouse": level.warehouse,
                                                              "on_hand": level.on_hand,
                                                              "available": level.available}, messages.SUCCESS)
                return HttpResponseRedirect(reverse("admin:inventory_product_change", args=[product.pk]))
        levels = product.levels.select_related("warehouse").order_by("warehouse__code")
        return TemplateResponse(request, "admin/inventory/stock_operation.html", _context(
            self, request, title=_("Adjust or count %(sku)s") % {"sku": product.sku}, original=product,
            product=product, levels=levels, form=form, media=self.media + form.media,
            change_url=reverse("admin:inventory_product_change", args=[product.pk])))


# --- Stock levels, the reorder list, the ledger ----------------------------------------------------


class BelowPointFilter(admin.SimpleListFilter):
    title = gettext_lazy("reorder")
    parameter_name = "reorder"

    def lookups(self, request, model_admin):
        return [("below", _("Below the reorder point"))]

    def queryset(self, request, queryset):
        if self.value() == "below":
            return queryset.filter(reorder_point__gt=F("on_hand") - F("reserved"))
        return queryset


@admin.register(StockLevel)
class StockLevelAdmin(admin.ModelAdmin):
    change_list_template = "admin/inventory/stocklevel/change_list.html"
    change_form_template = "admin/inventory/stocklevel/change_form.html"
    list_display = ["product", "warehouse", "on_hand", "reserved", "available", "reorder_point", "reorder_target",
                    "is_below_point"]
    list_filter = [BelowPointFilter, "warehouse"]
    list_select_related = ["product", "warehouse"]
    search_fields = ["product__sku", "product__gtin", "product__name_fr", "product__name_en"]
    fields = ["product", "warehouse", "on_hand", "reserved", "available", "reorder_point", "reorder_target",
              "updated_at"]
    readonly_fields = ["product", "warehouse", "on_hand", "reserved", "available", "updated_at"]

    @admin.display(description=gettext_lazy("available"))
    def available(self, level):
        return level.available

    @admin.display(description=gettext_lazy("below its point"), boolean=True)
    def is_below_point(self, level):
        return level.available < level.reorder_point

    def has_add_permission(self, request):
        return False  # a level appears with its first operation

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        """Only the reorder settings are editable here; quantities move through the ledger."""
        reorder.set_reorder_levels(level=obj, reorder_point=form.cleaned_data["reorder_point"],
                                   reorder_target=form.cleaned_data["reorder_target"])

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change, **kwargs)

        class ReorderSettingsForm(form):
            def clean(self):
                data = super().clean()
                point, target = data.get("reorder_point"), data.get("reorder_target")
                if point is not None and target is not None and target < point:
                    self.add_error("reorder_target", _("At least the reorder point."))
                return data

        return ReorderSettingsForm

    def get_urls(self):
        return [
            path("reorder/", self.admin_site.admin_view(self.reorder_view), name="inventory_reorder"),
            *super().get_urls(),
        ]

    def reorder_view(self, request):
        """Every level below its reorder point, with the suggested quantity (formula in inventory.reorder)."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        return TemplateResponse(request, "admin/inventory/reorder.html", _context(
            self, request, title=_("Reorder list"), lines=reorder.levels_to_reorder(),
            outflow_days=reorder.OUTFLOW_DAYS))


@admin.register(StockMovement)
class StockMovementAdmin(ReadOnlyModelAdmin):
    """The ledger: read-only, filterable by kind, warehouse and date."""

    list_display = ["created_at", "kind", "sku", "warehouse", "on_hand_delta", "reserved_delta", "on_hand_after",
                    "reserved_after", "reason", "actor_label", "partner", "reference"]
    list_filter = ["kind", "level__warehouse", ("created_at", admin.DateFieldListFilter),
                   ("partner", admin.RelatedOnlyFieldListFilter)]
    list_select_related = ["level__product", "level__warehouse", "partner"]
    search_fields = ["level__product__sku", "reference_id", "reason", "actor_label"]
    date_hierarchy = "created_at"
    fields = ["created_at", "kind", "level", "on_hand_delta", "reserved_delta", "on_hand_after", "reserved_after",
              "reason", "actor_label", "partner", "reference"]
    readonly_fields = fields

    @admin.display(description=gettext_lazy("SKU"), ordering="level__product__sku")
    def sku(self, movement):
        return movement.level.product.sku

    @admin.display(description=gettext_lazy("warehouse"), ordering="level__warehouse__code")
    def warehouse(self, movement):
        return movement.level.warehouse.code

    @admin.display(description=gettext_lazy("reference"))
    def reference(self, movement):
        """What caused the movement, by its kind in the reader's language, linked to it in the admin."""
        if not movement.reference_type:
            return "—"
        target = MOVEMENT_REFERENCES.get(movement.reference_type)
        if target is None:
            return f"{movement.reference_type} {movement.reference_id}"
        model = apps.get_model(*target)
        changelist = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
        return format_html('<a href="{}?{}">{} {}</a>', changelist, urlencode({"q": movement.reference_id}),
                           model._meta.verbose_name, movement.reference_id)


# A movement's ``reference_type`` -> the model it names (found in its admin by the reference id).
MOVEMENT_REFERENCES = {"order": ("orders", "Order"), "receipt": ("inventory", "Receipt"),
                       "import": ("inventory", "ImportJob")}


# --- Receipts -----------------------------------------------------------------------------------------


class ReceiptLineInline(admin.TabularInline):
    model = ReceiptLine
    fields = ["product", "quantity_expected", "quantity_received"]
    readonly_fields = ["quantity_received"]
    autocomplete_fields = ["product"]
    extra = 1

    def _is_open(self, obj) -> bool:
        return obj is None or obj.status == Receipt.Status.EXPECTED

    def has_add_permission(self, request, obj=None):
        return self._is_open(obj) and super().has_add_permission(request, obj)

    def has_change_permission(self, request, obj=None):
        return self._is_open(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return self._is_open(obj) and super().has_delete_permission(request, obj)


@admin.register(Receipt)
class ReceiptAdmin(admin.ModelAdmin):
    """Expected receipts are edited freely; once goods arrived, only receiving or cancelling."""

    change_form_template = "admin/inventory/receipt/change_form.html"
    list_display = ["expected_on", "supplier", "reference", "warehouse", "status", "progress"]
    list_filter = ["status", "warehouse"]
    list_select_related = ["warehouse"]
    search_fields = ["public_id", "supplier", "reference", "lines__product__sku"]
    date_hierarchy = "expected_on"
    fields = ["public_id", "supplier", "reference", "warehouse", "expected_on", "status"]
    inlines = [ReceiptLineInline]
    actions = ["receive_everything", "cancel"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(expected=Sum("lines__quantity_expected"),
                                                      received=Sum("lines__quantity_received"))

    def get_readonly_fields(self, request, obj=None):
        if obj is not None and obj.status != Receipt.Status.EXPECTED:
            return self.fields
        return ["public_id", "status"]

    def has_delete_permission(self, request, obj=None):
        return (obj is None or obj.status == Receipt.Status.EXPECTED) and super().has_delete_permission(request, obj)

    @admin.display(description=gettext_lazy("received"))
    def progress(self, receipt):
        return f"{receipt.received or 0} / {receipt.expected or 0}"

    def has_receive_permission(self, request):
        return request.user.has_perm("inventory.change_receipt") and request.user.has_perm(
            "inventory.change_stocklevel")

    @admin.action(description=gettext_lazy("Receive everything outstanding"), permissions=["receive"])
    def receive_everything(self, request, queryset):
        self._each(request, queryset, lambda receipt, actor: receiving.receive_receipt(receipt=receipt, actor=actor),
                   lambda n: ngettext("%(count)d receipt received in full.", "%(count)d receipts received in full.", n))

    @admin.action(description=gettext_lazy("Cancel what is outstanding"), permissions=["change"])
    def cancel(self, request, queryset):
        self._each(request, queryset, lambda receipt, actor: receiving.cancel_receipt(receipt=receipt, actor=actor),
                   lambda n: ngettext("%(count)d receipt cancelled.", "%(count)d receipts cancelled.", n))

    def _each(self, request, queryset, operation, done) -> None:
        actor, count = staff_actor(request), 0
        for receipt in queryset:
            try:
                operation(receipt, actor)
            except DomainError as error:
                self.message_user(request, f"{receipt}: {error.message}", messages.WARNING)
            else:
                count += 1
        if count:
            self.message_user(request, done(count) % {"count": count}, messages.SUCCESS)

    def get_urls(self):
        return [
            path("<path:object_id>/receive/", self.admin_site.admin_view(self.receive_view),
                 name="inventory_receipt_receive"),
            *super().get_urls(),
        ]

    def receive_view(self, request, object_id):
        """What arrived, line by line: all of it, or part (the receipt stays partly received)."""
        if not self.has_receive_permission(request):
            raise PermissionDenied
        receipt = get_object_or_404(Receipt.objects.select_related("warehouse"), pk=object_id)
        change_url = reverse("admin:inventory_receipt_change", args=[receipt.pk])
        lines = list(receipt.lines.select_related("product").order_by("pk"))
        form = ReceiveForm(request.POST or None, lines=lines)
        if request.method == "POST" and form.is_valid():
            try:
                receipt = receiving.receive_receipt(receipt=receipt, quantities=form.quantities,
                                                    actor=staff_actor(request))
            except DomainError as error:
                _show_on_form(form, error)
            else:
                self.message_user(request, _("Received into %(warehouse)s: the receipt is now %(status)s.")
                                  % {"warehouse": receipt.warehouse, "status": receipt.get_status_display().lower()},
                                  messages.SUCCESS)
                return HttpResponseRedirect(change_url)
        return TemplateResponse(request, "admin/inventory/receive.html", _context(
            self, request, title=_("Receive %(receipt)s") % {"receipt": receipt}, original=receipt, receipt=receipt,
            form=form, change_url=change_url, is_open=receipt.status in receiving.OPEN))


# --- Imports ------------------------------------------------------------------------------------------


@admin.register(ImportJob)
class ImportJobAdmin(ReadOnlyModelAdmin):
    """Upload (the add page), then the job's page follows its progress and shows the outcome."""

    list_display = ["created_at", "filename", "mode", "status", "total", "created_by"]
    list_filter = ["status", "mode"]
    list_select_related = ["created_by"]
    search_fields = ["public_id", "filename", "created_by__email"]
    date_hierarchy = "created_at"

    def has_add_permission(self, request, obj=None):
        return request.user.has_perm("inventory.add_importjob") and request.user.has_perm(
            "inventory.change_stocklevel")

    def get_urls(self):
        return [
            path("template.csv", self.admin_site.admin_view(self.template_view), name="inventory_importjob_template"),
            path("<path:object_id>/progress/", self.admin_site.admin_view(self.progress_view),
                 name="inventory_importjob_progress"),
            path("<path:object_id>/errors.csv", self.admin_site.admin_view(self.errors_view),
                 name="inventory_importjob_errors"),
            *super().get_urls(),
        ]

    def add_view(self, request, form_url="", extra_context=None):
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = ImportForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            job = imports.start_import(file=form.cleaned_data["file"], mode=form.cleaned_data["mode"],
                                       reason=form.cleaned_data["reason"], user=request.user,
                                       language=get_language() or "fr")
            return HttpResponseRedirect(reverse("admin:inventory_importjob_change", args=[job.pk]))
        return TemplateResponse(request, "admin/inventory/importjob/upload.html", _context(
            self, request, title=_("Import products and stock"), form=form, columns=imports.COLUMNS,
            media=self.media + form.media, recent=ImportJob.objects.select_related("created_by")[:5]))

    def _job(self, request, object_id) -> ImportJob:
        if not self.has_view_permission(request):
            raise PermissionDenied
        return get_object_or_404(ImportJob.objects.select_related("created_by"), pk=object_id)

    def _status_context(self, job: ImportJob) -> dict:
        processed, total = imports.progress(job)
        return {"job": job, "processed": processed, "total": total,
                "percent": round(processed * 100 / total) if total else 0,
                "errors": job.errors[:ERRORS_SHOWN], "more_errors": max(0, len(job.errors) - ERRORS_SHOWN)}

    def change_view(self, request, object_id, form_url="", extra_context=None):
        job = self._job(request, object_id)
        return TemplateResponse(request, "admin/inventory/importjob/job.html", _context(
            self, request, title=_("Import of %(file)s") % {"file": job.filename}, original=job,
            **self._status_context(job)))

    def progress_view(self, request, object_id):
        """The status fragment, polled by htmx every second until the job is finished."""
        job = self._job(request, object_id)
        return TemplateResponse(request, "admin/inventory/importjob/_status.html", self._status_context(job))

    def errors_view(self, request, object_id):
        job = self._job(request, object_id)
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{job.public_id}-errors.csv"'
        writer = csv.writer(response)
        writer.writerow([_("line"), _("column"), _("error")])
        for error in job.errors:
            writer.writerow([error["line"] or "", error["column"], error["message"]])
        return response

    def template_view(self, request):
        """An example file with every column."""
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="bigstock-import.csv"'
        writer = csv.writer(response)
        writer.writerow(list(imports.COLUMNS))
        example = {"sku": "MUG-001", "warehouse": "lyon", "quantity": "120", "gtin": "3760000000017",
                   "name_fr": "Mug en grès 35 cl", "name_en": "Stoneware mug 35 cl", "brand": "Atelier Rhône",
                   "category": "Cuisine", "weight_g": "350", "country_of_origin": "FR", "hs_code": "691200",
                   "wholesale_price": "6.90", "retail_price": "14.90", "vat_class": "standard", "is_active": "yes"}
        writer.writerow([example.get(column, "") for column in imports.COLUMNS])
        return response


# --- The warehouse API's staff tokens ---------------------------------------------------------------

admin.site.unregister(TokenProxy)  # DRF's tokens, kept in clear: no longer issued (knox keeps a hash)
admin.site.unregister(AuthToken)  # knox's own admin, shown as ours below


@admin.register(StaffToken)
class StaffTokenAdmin(AuthTokenAdmin):
    """Issue a token for a staff user's warehouse system (shown this once, kept only as a hash) or
    revoke one by deleting it."""

    list_display = ("token_key", "user", "created", "expiry")
    list_select_related = ("user",)

    def save_model(self, request, obj, form, change):
        admin.ModelAdmin.save_model(self, request, obj, form, change)
        if not change:
            self.message_user(request, _("The token for %(user)s, shown this once (keep it in the warehouse "
                                         "system's settings): %(token)s") % {"user": obj.user, "token": form.token},
                              messages.WARNING)
