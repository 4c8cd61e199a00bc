"""Orders in the partner portal: the list (filters, CSV export), an order's page (checks in plain
words, timeline, tracking; fix the address, run the checks again, cancel), the new-order form
(SKU search with live availability and the partner's price, lines added with htmx) and the CSV
import (validated first, submitted in the background with a progress bar).

Thin: reads through the partner-scoped querysets of ``PartnerPortalMixin``; every change is one
call to ``orders.services`` (or ``orders.imports`` for a file).
"""

import csv
from dataclasses import dataclass
from urllib.parse import urlencode

from django.contrib import messages
from django.db.models import Prefetch, Q
from django.http import HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views import View
from django.views.generic import FormView, ListView, TemplateView

from bigstock.errors import DomainError
from inventory import services as inventory
from inventory.models import Product
from partners.audit import shown_actor
from partners.portal import PortalAction, PortalPage

from . import imports, selectors, services, states
from .forms import AddressForm, CancelForm, ImportForm, OrderFilterForm, OrderForm
from .models import CheckResult, Order, OrderImport, Reservation, Shipment, ShipmentLine, Status
from .staff_views import format_duration

ORDERS_PER_PAGE = 50
SEARCH_RESULTS = 15


# --- Shared with the API ----------------------------------------------------------------------------


def latest_checks(order: Order) -> list[CheckResult]:
    """The results of the latest run of the checks (``check_results`` prefetched), failures first."""
    results = list(order.check_results.all())
    latest = max((result.run for result in results), default=0)
    return sorted((r for r in results if r.run == latest), key=lambda r: (r.passed, r.severity != "block", r.pk))


@dataclass(frozen=True)
class ProductRow:
    """A product as the new-order form shows it: live availability and the partner's price."""

    sku: str
    name: str
    available: int
    price_cents: int


def product_rows(*, partner, query: str = "", skus=None) -> list[ProductRow]:
    """Active products matching ``query`` (SKU, name or GTIN), or exactly ``skus``; one query, plus
    the partner's discount looked up once."""
    products = Product.objects.filter(is_active=True).select_related("availability").order_by("sku")
    if skus is not None:
        products = products.filter(sku__in=list(skus))
    else:
        query = query.strip()
        if len(query) < 2:
            return []
        products = products.filter(Q(sku__icontains=query) | Q(name_fr__icontains=query)
                                   | Q(name_en__icontains=query) | Q(gtin=query))[:SEARCH_RESULTS]
    products = list(products)
    discount = inventory.discount_for(partner) if products else 0
    rows = []
    for product in products:
        availability = getattr(product, "availability", None)
        rows.append(ProductRow(product.sku, product.name, availability.available if availability else 0,
                               inventory.discounted(product.wholesale_price_cents, discount)))
    return rows


# --- Pages ----------------------------------------------------------------------------------------------


class OrderPage(PortalPage):
    model = Order

    def get_owned(self, queryset=None):
        """The partner's object named by the URL's ``public_id`` (another partner's: 404)."""
        return get_object_or_404(queryset if queryset is not None else self.get_queryset(),
                                 public_id=self.kwargs["public_id"])


class OrderListView(OrderPage, ListView):
    template_name = "orders/list.html"
    context_object_name = "orders"
    paginate_by = ORDERS_PER_PAGE

    def get_queryset(self):
        self.filter_form = OrderFilterForm(self.request.GET or None)
        return self.filter_form.filter(super().get_queryset().order_by("-submitted_at", "-pk"))

    def get_context_data(self, **kwargs):
        query = urlencode([(key, value) for key, value in self.request.GET.items() if key != "page" and value])
        holds = Order.objects.for_partner(self.partner).filter(status=Status.ON_HOLD).count()
        context = super().get_context_data(filter_form=self.filter_form, filter_query=query, holds=holds, **kwargs)
        if query or context["paginator"].count:  # a partner without orders has no delays to read
            context["delays"] = delays_in_words(selectors.partner_delays(self.partner))
        return context


def delays_in_words(figures: dict) -> dict:
    """``selectors.partner_delays`` as the orders list shows it: per window, a sentence per delay,
    the plan's targets, and how many orders of the last week were over them."""
    targets = {"checked": figures["check_target"], "shipped": figures["ship_target"]}
    windows = [{"key": key, "label": window["label"],
                **{metric: _stats_in_words(window[metric], targets[metric]) for metric in targets}}
               for key, window in figures["windows"].items()]
    return {"windows": windows, "check_target": format_duration(targets["checked"].total_seconds()),
            "ship_target": format_duration(targets["shipped"].total_seconds()),
            "late_orders": len({breach.order.pk for breach in figures["breaches"]})}


def _stats_in_words(stats: selectors.Stats, target) -> dict:
    if not stats.count:
        text = _("None yet in this period.")
    elif stats.count == 1:
        text = _("One order: %(time)s.") % {"time": format_duration(stats.median_s)}
    else:
        text = _("Half of the %(count)d orders within %(median)s, 19 in 20 within %(p95)s.") % {
            "count": stats.count, "median": format_duration(stats.median_s), "p95": format_duration(stats.p95_s)}
    return {"text": text, "over_target": bool(stats.count) and stats.p95_s > target.total_seconds()}


class _Echo:
    def write(self, value):
        return value


EXPORT_COLUMNS = ["id", "reference", "status", "submitted_at", "name", "company", "postcode", "city", "country",
                  "lines", "units", "subtotal", "currency", "tracking_numbers"]


class OrderExportView(OrderPage, View):
    """The filtered list as CSV, one order per line, streamed (any number of orders)."""

    def get(self, request):
        form = OrderFilterForm(request.GET or None)
        orders = form.filter(self.get_queryset().order_by("-submitted_at", "-pk")).prefetch_related(
            "lines", "shipments")
        writer = csv.writer(_Echo())

        def rows():
            yield "\ufeff"  # a BOM: spreadsheets then read the accents right
            yield writer.writerow(EXPORT_COLUMNS)
            for order in orders.iterator(chunk_size=500):
                lines = list(order.lines.all())
                yield writer.writerow([
                    order.public_id, order.reference, order.status,
                    timezone.localtime(order.submitted_at).isoformat(timespec="seconds"), order.ship_to_name,
                    order.ship_to_company, order.ship_to_postcode, order.ship_to_city, str(order.ship_to_country),
                    "; ".join(f"{line.sku} x {line.quantity}" for line in lines),
                    sum(line.quantity for line in lines), f"{order.subtotal_cents / 100:.2f}", order.currency,
                    " ".join(shipment.tracking_number for shipment in order.shipments.all()),
                ])

        response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="orders-{timezone.localdate():%Y-%m-%d}.csv"'
        return response


class OrderDetailView(OrderPage, TemplateView):
    template_name = "orders/detail.html"
    address_form = None

    def get_order(self) -> Order:
        return self.get_owned(self.get_queryset().prefetch_related(
            "lines", "check_results", "timeline",
            Prefetch("reservations", queryset=Reservation.objects.filter(state=Reservation.State.HELD)),
            Prefetch("shipments", queryset=Shipment.objects.prefetch_related(
                "tracking", Prefetch("lines", queryset=ShipmentLine.objects.select_related("line")))),
        ))

    def get_context_data(self, **kwargs):
        order = self.get_order()
        checks = latest_checks(order)
        on_hold = order.status == Status.ON_HOLD
        return super().get_context_data(
            order=order,
            failed_checks=[check for check in checks if not check.passed],
            passed_checks=[check for check in checks if check.passed],
            timeline=[(event, shown_actor(event.actor_label)) for event in order.timeline.all()],
            address_form=self.address_form or (AddressForm.for_order(order) if on_hold else None),
            can_cancel=order.status in states.CANCELLABLE,
            can_recheck=on_hold,
            cancel_form=CancelForm(),
            **kwargs,
        )


class UpdateAddressView(OrderDetailView):
    """The address form of an order on hold: saved, then the checks run again."""

    required_permission = "place_orders"
    http_method_names = ["post"]

    def post(self, request, public_id):
        order = self.get_owned()
        form = AddressForm.for_order(order, data=request.POST)
        if form.is_valid():
            try:
                order = services.update_address(order=order, ship_to=form.ship_to(), actor=self.actor)
            except DomainError as error:
                form.show(error)
            else:
                messages.success(request, _checked_message(order))
                return redirect("orders:detail", public_id=order.public_id)
        self.address_form = form
        return self.render_to_response(self.get_context_data(), status=400)


def _checked_message(order: Order) -> str:
    if order.status == Status.READY:
        return _("Every check passes: the order is ready for the warehouse.")
    return _("The checks ran again: the order is still on hold, see why below.")


class OrderAction(PortalAction):
    model = Order
    required_permission = "place_orders"

    def get_redirect_url(self) -> str:
        return reverse("orders:detail", args=[self.kwargs["public_id"]])


class RecheckView(OrderAction):
    def perform(self):
        return _checked_message(services.rerun_checks(order=self.get_object(), actor=self.actor))


class CancelOrderView(OrderAction):
    def perform(self):
        form = CancelForm(self.request.POST)
        reason = form.cleaned_data["reason"] if form.is_valid() else ""
        order = services.cancel_order(order=self.get_object(), actor=self.actor, reason=reason)
        return _("Order %(reference)s is cancelled; its stock is released.") % {"reference": order.reference}


# --- New order ---------------------------------------------------------------------------------------------


class NewOrderView(OrderPage, FormView):
    required_permission = "place_orders"
    template_name = "orders/new.html"
    form_class = OrderForm

    def get_initial(self):
        return {"country": "FR"}

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        form = context["form"]
        known = {row.sku: row for row in product_rows(partner=self.partner, skus=[r.sku for r in form.rows])}
        for row in form.rows:
            row.product = known.get(row.sku)
        return context

    def form_valid(self, form):
        try:
            order = services.submit_order(partner=self.partner, ship_to=form.ship_to(), lines=form.lines(),
                                          actor=self.actor, source="portal", **form.options())
        except DomainError as error:
            form.show(error)
            return self.form_invalid(form)
        messages.success(self.request, _("Order %(reference)s is submitted and its stock reserved; the checks "
                                         "run in a few seconds.") % {"reference": order.reference})
        return redirect("orders:detail", public_id=order.public_id)


class ProductSearchView(OrderPage, TemplateView):
    """htmx: the products matching ``q``, each with an "add" button."""

    required_permission = "place_orders"
    template_name = "orders/_product_results.html"

    def get_context_data(self, **kwargs):
        query = self.request.GET.get("q", "")
        return super().get_context_data(query=query, products=product_rows(partner=self.partner, query=query),
                                        **kwargs)


class NewLineView(OrderPage, TemplateView):
    """htmx: one more line for the form, for ``sku`` (a search result) or empty."""

    required_permission = "place_orders"
    template_name = "orders/_line_row.html"

    def get_context_data(self, **kwargs):
        sku = self.request.GET.get("sku", "").strip().upper()[:64]
        found = product_rows(partner=self.partner, skus=[sku]) if sku else []
        return super().get_context_data(row={"sku": sku, "quantity_text": "1", "product": found[0] if found else None,
                                             "errors": []}, **kwargs)


# --- CSV import -----------------------------------------------------------------------------------------------


class ImportView(OrderPage, FormView):
    required_permission = "place_orders"
    template_name = "orders/import.html"
    form_class = ImportForm

    def get_context_data(self, **kwargs):
        return super().get_context_data(
            columns=imports.COLUMNS, required=imports.REQUIRED_COLUMNS, max_rows=imports.MAX_ROWS,
            recent=OrderImport.objects.for_partner(self.partner).defer("orders", "created", "failures")[:5],
            **kwargs)

    def form_valid(self, form):
        upload = form.cleaned_data["file"]
        try:
            orders = imports.read_orders(partner=self.partner, upload=upload)
        except imports.FileRefused as refused:
            return self.render_to_response(self.get_context_data(form=form, errors=refused.errors), status=400)
        job = imports.start_import(partner=self.partner, user=self.request.user, filename=upload.name,
                                   orders=orders, language=get_language() or "fr")
        return redirect("orders:import_status", public_id=job.public_id)


class ImportSampleView(OrderPage, View):
    def get(self, request):
        response = HttpResponse(imports.sample_csv(), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="orders-sample.csv"'
        return response


class ImportStatusView(OrderPage, TemplateView):
    """The import's progress (polled with htmx while it runs), then the orders created and the failures."""

    model = OrderImport
    template_name = "orders/import_status.html"

    def get_template_names(self):
        return ["orders/_import_progress.html"] if self.request.headers.get("HX-Request") else [self.template_name]

    def get_context_data(self, **kwargs):
        return super().get_context_data(job=self.get_owned(), **kwargs)
