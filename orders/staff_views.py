"""Staff pages for orders, served inside the admin (``orders.admin`` wires the URLs): the hold
queue with release and cancel, picking lists, packing, shipment and tracking entry, and the
processing delays dashboard. Each view is thin: a form, one service call, a message."""

from django import forms
from django.contrib import messages
from django.contrib.admin.widgets import AdminSplitDateTime
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Sum
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from bigstock.errors import DomainError
from partners.admin import staff_actor

from . import selectors, services
from .models import CarrierService, Order, Reservation, Shipment, Status, TrackingEvent

# --- Forms ----------------------------------------------------------------------------------------


class ReleaseForm(forms.Form):
    justification = forms.CharField(
        label=gettext_lazy("Justification"), min_length=10, max_length=500, widget=forms.Textarea(attrs={"rows": 4}),
        help_text=gettext_lazy("Why the order may ship despite its hold. Recorded in the audit log and shown on "
                               "the order's timeline."))


class CancelForm(forms.Form):
    reason = forms.CharField(
        label=gettext_lazy("Reason"), max_length=500, widget=forms.Textarea(attrs={"rows": 3}),
        help_text=gettext_lazy("Shown to the partner on the order's timeline. The reserved stock goes back on sale."))


class ShipmentForm(forms.Form):
    carrier = forms.CharField(label=gettext_lazy("Carrier"), max_length=60)
    service = forms.ChoiceField(label=gettext_lazy("Service"), choices=CarrierService.choices)
    tracking_number = forms.CharField(label=gettext_lazy("Tracking number"), max_length=100)
    tracking_url = forms.URLField(label=gettext_lazy("Tracking URL"), required=False, assume_scheme="https")
    weight_g = forms.IntegerField(label=gettext_lazy("Weight (g)"), min_value=0, initial=0)

    def __init__(self, *args, outstanding: dict, **kwargs):
        """``outstanding``: {order line: reserved units not shipped yet}; one quantity field per line."""
        super().__init__(*args, **kwargs)
        self.lines = []
        for line, left in outstanding.items():
            name = f"line_{line.pk}"
            self.fields[name] = forms.IntegerField(
                label=_("%(sku)s (%(left)d left)") % {"sku": line.sku, "left": left}, min_value=0, max_value=left,
                initial=left)
            self.lines.append((line, name))

    def clean(self):
        cleaned = super().clean()
        if self.lines and not any(cleaned.get(name) for _line, name in self.lines):
            raise forms.ValidationError(_("Ship at least one unit."))
        return cleaned

    @property
    def quantities(self) -> dict[int, int]:
        return {line.pk: self.cleaned_data[name] for line, name in self.lines if self.cleaned_data.get(name)}


class TrackingEventForm(forms.Form):
    kind = forms.ChoiceField(label=gettext_lazy("Status"), choices=TrackingEvent.Kind.choices)
    occurred_at = forms.SplitDateTimeField(label=gettext_lazy("When"), widget=AdminSplitDateTime,
                                           initial=timezone.now)
    description = forms.CharField(label=gettext_lazy("Description"), max_length=300, required=False)
    location = forms.CharField(label=gettext_lazy("Location"), max_length=200, required=False)


# --- Helpers --------------------------------------------------------------------------------------


def _require(request, permission: str) -> None:
    if not request.user.has_perm(permission):
        raise PermissionDenied


def _context(request, model_admin, title: str, **extra) -> dict:
    return {**model_admin.admin_site.each_context(request), "title": title, "opts": model_admin.model._meta, **extra}


def _change_url(order: Order) -> str:
    return reverse("admin:orders_order_change", args=[order.pk])


def _form_page(request, model_admin, *, order, form, title: str, submit_label: str, back_url: str, intro: str = ""):
    return TemplateResponse(request, "admin/orders/order_form.html", _context(
        request, model_admin, title, order=order, original=order, form=form, submit_label=submit_label,
        back_url=back_url, intro=intro, media=model_admin.media + form.media))


def _run(request, model_admin, call, success: str) -> bool:
    """Call one service; its refusal is shown as an error message."""
    try:
        call()
    except DomainError as error:
        model_admin.message_user(request, error.message, messages.ERROR)
        return False
    model_admin.message_user(request, success, messages.SUCCESS)
    return True


# --- Hold queue -----------------------------------------------------------------------------------


def hold_queue(request, model_admin):
    """Orders on hold, oldest hold first, with the reasons and what to do."""
    _require(request, "orders.view_order")
    page = Paginator(selectors.hold_queue(), 50).get_page(request.GET.get("page"))
    for order in page:
        order.blocking = selectors.blocking_checks(order)
    return TemplateResponse(request, "admin/orders/holds.html", _context(
        request, model_admin, _("Orders on hold"), page=page, can_change=request.user.has_perm("orders.change_order")))


def release_hold(request, model_admin, object_id):
    _require(request, "orders.change_order")
    order = get_object_or_404(Order.objects.select_related("partner"), pk=object_id)
    form = ReleaseForm(request.POST or None)
    if request.method == "POST" and form.is_valid() and _run(
            request, model_admin, lambda: services.release_hold(
                order=order, justification=form.cleaned_data["justification"], actor=staff_actor(request)),
            _("Order %(order)s released: it is ready for picking.") % {"order": order}):
        return HttpResponseRedirect(reverse("admin:orders_hold_queue"))
    reasons = "; ".join(result.message for result in selectors.blocking_checks(order))
    return _form_page(request, model_admin, order=order, form=form, title=_("Release %(order)s") % {"order": order},
                      submit_label=_("Release the hold"), back_url=reverse("admin:orders_hold_queue"),
                      intro=_("Held because: %(reasons)s") % {"reasons": reasons} if reasons else "")


def cancel_order(request, model_admin, object_id):
    _require(request, "orders.change_order")
    order = get_object_or_404(Order.objects.select_related("partner"), pk=object_id)
    form = CancelForm(request.POST or None)
    if request.method == "POST" and form.is_valid() and _run(
            request, model_admin, lambda: services.cancel_order(
                order=order, reason=form.cleaned_data["reason"], actor=staff_actor(request)),
            _("Order %(order)s cancelled: its stock is back on sale.") % {"order": order}):
        return HttpResponseRedirect(_change_url(order))
    return _form_page(request, model_admin, order=order, form=form, title=_("Cancel %(order)s") % {"order": order},
                      submit_label=_("Cancel the order"), back_url=_change_url(order))


# --- Picking and packing --------------------------------------------------------------------------


def picking(request, model_admin):
    """Printable picking lists per warehouse; start picking ready orders, mark picked orders packed."""
    _require(request, "orders.view_order")
    warehouse = request.GET.get("warehouse", "")
    if request.method == "POST":
        _require(request, "orders.change_order")
        _picking_action(request, model_admin)
        return HttpResponseRedirect(request.get_full_path())
    from inventory.models import Warehouse

    return TemplateResponse(request, "admin/orders/picking.html", _context(
        request, model_admin, _("Picking lists"), warehouses=selectors.picking_lists(warehouse_code=warehouse or None),
        warehouse=warehouse, all_warehouses=Warehouse.objects.filter(is_active=True).order_by("code"),
        can_change=request.user.has_perm("orders.change_order"), printed_at=timezone.now()))


def _picking_action(request, model_admin) -> None:
    action = request.POST.get("action")
    steps = {"start_picking": (Status.READY, services.start_picking,
                               lambda n: ngettext("Picking started for %(count)d order.",
                                                  "Picking started for %(count)d orders.", n)),
             "mark_packed": (Status.PICKING, services.mark_packed,
                             lambda n: ngettext("%(count)d order packed.", "%(count)d orders packed.", n))}
    if action not in steps:
        model_admin.message_user(request, _("Choose what to do."), messages.ERROR)
        return
    status, service, done = steps[action]
    ids = [value for value in request.POST.getlist("order") if value.isdigit()]
    orders = list(Order.objects.filter(pk__in=ids, status=status))
    if not orders:
        model_admin.message_user(request, _("Select at least one order in the right status."), messages.WARNING)
        return
    _apply(request, model_admin, orders, service, done)


def _apply(request, model_admin, orders, service, done) -> int:
    """Call ``service`` on each order; refusals are reported one by one, successes counted."""
    actor = staff_actor(request)
    count = 0
    for order in orders:
        try:
            service(order=order, actor=actor)
        except DomainError as error:
            model_admin.message_user(request, f"{order}: {error.message}", messages.ERROR)
        else:
            count += 1
    if count:
        model_admin.message_user(request, done(count) % {"count": count}, messages.SUCCESS)
    return count


# --- Shipments and tracking -----------------------------------------------------------------------


def outstanding_lines(order: Order) -> dict:
    """{order line: reserved units not shipped yet}, in line order."""
    left = dict(Reservation.objects.filter(order=order, state=Reservation.State.HELD).values("line_id")
                .annotate(units=Sum("quantity")).values_list("line_id", "units"))
    return {line: left[line.pk] for line in order.lines.all() if left.get(line.pk)}


def create_shipment(request, model_admin, object_id):
    _require(request, "orders.change_order")
    order = get_object_or_404(Order.objects.select_related("partner"), pk=object_id)
    form = ShipmentForm(request.POST or None, outstanding=outstanding_lines(order),
                        initial={"service": order.carrier_service})
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        if _run(request, model_admin, lambda: services.create_shipment(
                order=order, quantities=form.quantities, carrier=data["carrier"], service=data["service"],
                tracking_number=data["tracking_number"], tracking_url=data["tracking_url"],
                weight_g=data["weight_g"], actor=staff_actor(request)),
                _("Shipment recorded for %(order)s.") % {"order": order}):
            return HttpResponseRedirect(_change_url(order))
    return _form_page(request, model_admin, order=order, form=form, title=_("Ship %(order)s") % {"order": order},
                      submit_label=_("Record the shipment"), back_url=_change_url(order),
                      intro=_("Only a packed order ships. Ship part of the units for a partial shipment; the order "
                              "is shipped once every reserved unit has left."))


def add_tracking_event(request, model_admin, object_id):
    _require(request, "orders.change_shipment")
    shipment = get_object_or_404(Shipment.objects.select_related("order", "partner"), pk=object_id)
    back_url = reverse("admin:orders_shipment_change", args=[shipment.pk])
    form = TrackingEventForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        if _run(request, model_admin, lambda: services.add_tracking_event(
                shipment=shipment, kind=data["kind"], occurred_at=data["occurred_at"], description=data["description"],
                location=data["location"], actor=staff_actor(request)),
                _("Tracking event recorded for %(shipment)s.") % {"shipment": shipment}):
            return HttpResponseRedirect(back_url)
    return _form_page(request, model_admin, order=shipment.order, form=form,
                      title=_("Tracking for %(shipment)s") % {"shipment": shipment},
                      submit_label=_("Record the event"), back_url=back_url,
                      intro=_("“Delivered” on every shipment of the order closes it."))


# --- Delays ---------------------------------------------------------------------------------------


def delays_dashboard(request, model_admin):
    """Medians and 95th percentiles per plan and standing over a day and a week; breaches."""
    _require(request, "orders.view_order")
    data = selectors.delays_dashboard()
    breaches = [{"breach": breach, "elapsed": format_duration(breach.elapsed_s), "target": format_duration(breach.target_s),
                 "metric": selectors.METRICS[breach.metric]} for breach in data["breaches"]]
    targets = [(code, format_duration(check.total_seconds()), format_duration(ship.total_seconds()))
               for code, check, ship in data["targets"]]
    charts = _charts(data)
    windows = [(key, figures["label"], {grouping: charts[f"{key}_{grouping}"] for grouping in ("plan", "standing")})
               for key, figures in data["windows"].items()]
    return TemplateResponse(request, "admin/orders/delays.html", _context(
        request, model_admin, _("Processing delays"), dashboard=data, windows=windows, breaches=breaches,
        targets=targets, metrics=selectors.METRICS))


def _charts(data: dict) -> dict:
    """Per window and grouping, the rows with formatted figures and bar widths (percent of the
    largest 95th percentile of that table, per metric)."""
    charts = {}
    for window, figures in data["windows"].items():
        for grouping in ("plan", "standing"):
            rows = figures[grouping]
            largest = {metric: max((getattr(row, metric).p95_s or 0 for row in rows), default=0) or 1
                       for metric in selectors.METRICS}
            charts[f"{window}_{grouping}"] = [
                {"key": row.key, "label": row.label, **{metric: _bar(getattr(row, metric), largest[metric])
                                                        for metric in selectors.METRICS}}
                for row in rows]
    return charts


def _bar(stats: selectors.Stats, largest: float) -> dict:
    return {"count": stats.count, "median": format_duration(stats.median_s), "p95": format_duration(stats.p95_s),
            "median_pct": round(100 * (stats.median_s or 0) / largest, 1),
            "p95_pct": round(100 * (stats.p95_s or 0) / largest, 1)}


def format_duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if seconds < 120:
        return _("%(n)d s") % {"n": round(seconds)}
    if seconds < 2 * 3600:
        return _("%(n)d min") % {"n": round(seconds / 60)}
    if seconds < 72 * 3600:
        return _("%(n).1f h") % {"n": seconds / 3600}
    return _("%(n).1f days") % {"n": seconds / 86400}
