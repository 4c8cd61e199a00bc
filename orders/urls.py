from django.urls import path

from . import views

app_name = "orders"

urlpatterns = [
    path("", views.OrderListView.as_view(), name="list"),
    path("export.csv", views.OrderExportView.as_view(), name="export"),
    # New orders: the form and its htmx parts, and the CSV import
    path("new/", views.NewOrderView.as_view(), name="new"),
    path("new/products", views.ProductSearchView.as_view(), name="product_search"),
    path("new/line", views.NewLineView.as_view(), name="new_line"),
    path("import/", views.ImportView.as_view(), name="import"),
    path("import/sample.csv", views.ImportSampleView.as_view(), name="import_sample"),
    path("import/<str:public_id>/", views.ImportStatusView.as_view(), name="import_status"),
    # One order
    path("<str:public_id>/", views.OrderDetailView.as_view(), name="detail"),
    path("<str:public_id>/address/", views.UpdateAddressView.as_view(), name="update_address"),
    path("<str:public_id>/recheck/", views.RecheckView.as_view(), name="recheck"),
    path("<str:public_id>/cancel/", views.CancelOrderView.as_view(), name="cancel"),
]
