"""The partners API's routes, included in ``/api/v1/`` (namespace ``api``). No trailing slashes."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from . import api

router = SimpleRouter(trailing_slash="")
router.register("members", api.MemberViewSet, basename="member")
router.register("webhook-endpoints", api.WebhookEndpointViewSet, basename="webhook-endpoint")
router.register("webhook-deliveries", api.WebhookDeliveryViewSet, basename="webhook-delivery")
router.register("events", api.EventViewSet, basename="event")

urlpatterns = [
    path("partner", api.PartnerView.as_view(), name="partner"),
    *router.urls,
]
