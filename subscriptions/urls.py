"""The billing pages, under ``/billing/`` (namespace ``subscriptions``)."""

from django.urls import path

from . import views

app_name = "subscriptions"

urlpatterns = [
    path("", views.BillingView.as_view(), name="billing"),
    path("subscribe/", views.SubscribeView.as_view(), name="subscribe"),
    path("change/<int:plan_id>/", views.ChangePlanView.as_view(), name="change_plan"),
    path("change/undo/", views.UndoChangeView.as_view(), name="undo_change"),
    path("cancel/", views.CancelView.as_view(), name="cancel"),
    path("resume/", views.ResumeView.as_view(), name="resume"),
    path("invoices/", views.InvoicesView.as_view(), name="invoices"),
    path("invoices/<str:public_id>/", views.InvoiceView.as_view(), name="invoice"),
    path("invoices/<str:public_id>/pdf", views.InvoicePdfView.as_view(), name="invoice_pdf"),
    path("credit-notes/<str:public_id>/pdf", views.CreditNotePdfView.as_view(), name="credit_note_pdf"),
]
