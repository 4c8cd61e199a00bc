"""Catalogue pages of the partner portal: search, filters, availability and the partner's price.

The catalogue is BigStock's and the same for every partner (products are not partner-owned,
so these pages do not scope their queryset by partner); what differs is the price, after the
partner's plan discount, and the "low stock" badge, from the partner's own sales. A page costs
a fixed number of queries whatever its length: one discount lookup, then one query each for
the products, the incoming dates and the low-stock badges.
"""

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from urllib.parse import urlencode

from django.http import Http404
from django.views.generic import DetailView, ListView

from partners.portal import PortalPage

from . import receiving, reorder, services
from .forms import CatalogueFilterForm
from .models import Product, Warehouse

PRODUCTS_PER_PAGE = 50
FEED_DOWNLOADS = {"csv": "/api/v1/stock/export.csv", "json": "/api/v1/stock/export.json"}


@dataclass(frozen=True)
class CatalogueRow:
    product: Product
    available: int
    price_cents: int
    incoming_on: dt.date | None
    is_low_stock: bool


def catalogue_rows(products: list[Product], *, partner, discount: Decimal) -> list[CatalogueRow]:
    """What a partner sees of each product (``discount``: from ``services.discount_for``, looked up
    once per request): two queries for any number of products."""
    ids = [product.pk for product in products]
    incoming = receiving.incoming_dates(ids)
    low = reorder.low_stock_product_ids(partner=partner, product_ids=ids)
    return [
        CatalogueRow(product=product, available=_available(product),
                     price_cents=services.discounted(product.wholesale_price_cents, discount),
                     incoming_on=incoming.get(product.pk), is_low_stock=product.pk in low)
        for product in products
    ]


def _available(product: Product) -> int:
    availability = getattr(product, "availability", None)
    return max(availability.available, 0) if availability is not None else 0


def _active_products():
    return Product.objects.filter(is_active=True)


class CatalogueView(PortalPage, ListView):
    template_name = "inventory/catalogue.html"
    context_object_name = "products"
    paginate_by = PRODUCTS_PER_PAGE

    def get_queryset(self):
        # Not ``for_partner``: the catalogue is the same for every partner (see the module docstring).
        products = _active_products()
        categories = products.exclude(category="").order_by("category").values_list("category", flat=True).distinct()
        brands = products.exclude(brand="").order_by("brand").values_list("brand", flat=True).distinct()
        self.filter_form = CatalogueFilterForm(self.request.GET, categories=list(categories), brands=list(brands))
        return self.filter_form.filter(products).select_related("availability").order_by("sku")

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        query = {name: value for name, value in self.filter_form.cleaned_data.items() if value} \
            if self.filter_form.is_valid() else {}
        discount = services.discount_for(self.partner)
        return {
            **context,
            "rows": catalogue_rows(list(context["page_obj"]), partner=self.partner, discount=discount),
            "discount": discount,
            "filter_form": self.filter_form,
            "filter_query": urlencode(query),
            "is_filtered": bool(query),
            "feed_downloads": FEED_DOWNLOADS,
        }


@dataclass(frozen=True)
class WarehouseRow:
    warehouse: Warehouse
    available: int
    incoming_on: dt.date | None


class ProductView(PortalPage, DetailView):
    template_name = "inventory/product.html"
    context_object_name = "product"

    def get_object(self, queryset=None):
        # Any partner may see any active product (the catalogue is shared); the price is theirs.
        try:
            return _active_products().select_related("availability").get(public_id=self.kwargs["public_id"])
        except Product.DoesNotExist:
            raise Http404 from None

    def get_context_data(self, **kwargs):
        product = self.object
        incoming = receiving.incoming_dates_by_warehouse(product.pk)
        levels = product.levels.filter(warehouse__is_active=True).select_related("warehouse")
        warehouses = [WarehouseRow(level.warehouse, max(level.available, 0), incoming.get(level.warehouse_id))
                      for level in levels]
        stocked = {row.warehouse.pk for row in warehouses}
        warehouses += [WarehouseRow(warehouse, 0, incoming[warehouse.pk]) for warehouse in
                       Warehouse.objects.filter(pk__in=set(incoming) - stocked, is_active=True)]
        warehouses.sort(key=lambda row: row.warehouse.name)
        discount = services.discount_for(self.partner)
        (row,) = catalogue_rows([product], partner=self.partner, discount=discount)
        return super().get_context_data(row=row, discount=discount, warehouses=warehouses,
                                        feed_downloads=FEED_DOWNLOADS, **kwargs)
