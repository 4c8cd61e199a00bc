"""The stock feed API's routes, and the warehouse API's for staff, included in ``/api/v1/`` (namespace ``api``). No trailing slashes."""

from django.urls import path

from . import api, staff_api

urlpatterns = [
    path("stock", api.StockView.as_view(), name="stock-list"),
    path("stock/export.csv", api.StockCsvExportView.as_view(), name="stock-export-csv"),
    path("stock/export.json", api.StockJsonExportView.as_view(), name="stock-export-json"),
    path("products", api.ProductListView.as_view(), name="product-list"),
    path("products/<str:sku>", api.ProductDetailView.as_view(), name="product-detail"),
    # BigStock's staff and warehouse systems (not partners): inventory/staff_api.py
    path("staff/stock/adjustments", staff_api.AdjustmentView.as_view(), name="staff-stock-adjustment"),
    path("staff/stock/receipts", staff_api.ReceiptView.as_view(), name="staff-stock-receipt"),
    path("staff/stock/counts", staff_api.CountView.as_view(), name="staff-stock-count"),
]
