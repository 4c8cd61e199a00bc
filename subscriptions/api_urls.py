"""The billing API's routes, included in ``/api/v1/`` (namespace ``api``). No trailing slashes."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from . import api

router = SimpleRouter(trailing_slash="")
router.register("plans", api.PlanViewSet, basename="plan")
router.register("invoices", api.InvoiceViewSet, basename="invoice")
router.register("credit-notes", api.CreditNoteViewSet, basename="credit-note")

urlpatterns = [
    path("subscription", api.SubscriptionView.as_view(), name="subscription"),
    *router.urls,
]
