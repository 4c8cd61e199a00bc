"""The support API's routes, included in ``/api/v1/`` (namespace ``api``). No trailing slashes."""

from rest_framework.routers import SimpleRouter

from . import api

router = SimpleRouter(trailing_slash="")
router.register("tickets", api.TicketViewSet, basename="ticket")
router.register("ticket-attachments", api.AttachmentViewSet, basename="ticket-attachment")

urlpatterns = router.urls
