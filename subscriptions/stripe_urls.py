"""Payment method pages, under ``/billing/payment-method/`` (namespace ``stripe``)."""

from django.urls import path

from . import stripe_views as views
from .models import StripePaymentMethod

app_name = "stripe"

urlpatterns = [
    path("", views.PaymentMethodView.as_view(), name="payment_method"),
    path("card/", views.SetupView.as_view(kind=StripePaymentMethod.Kind.CARD), name="setup_card"),
    path("sepa/", views.SetupView.as_view(kind=StripePaymentMethod.Kind.SEPA_DEBIT), name="setup_sepa"),
    path("saved/", views.SavedView.as_view(), name="saved"),
    path("remove/", views.RemoveView.as_view(), name="remove"),
    path("automatic/", views.RailView.as_view(), name="rail"),
    path("authenticate/", views.AuthenticateView.as_view(), name="authenticate"),
    path("authenticated/", views.AuthenticatedView.as_view(), name="authenticated"),
]
