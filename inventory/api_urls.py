"""The stock feed API's routes, included in ``/api/v1/`` (namespace ``api``). No trailing slashes."""

from django.urls import path

from . import api

urlpatterns = [
    path("stock", api.StockView.as_view(), name="stock-list"),
    path("stock/export.csv", api.StockCsvExportView.as_view(), name="stock-export-csv"),
    path("stock/export.json", api.StockJsonExportView.as_view(), name="stock-export-json"),
    path("products", api.ProductListView.as_view(), name="product-list"),
    path("products/<str:sku>", api.ProductDetailView.as_view(), name="product-detail"),
]
