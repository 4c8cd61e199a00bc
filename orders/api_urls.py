"""The orders API's routes, included in ``/api/v1/`` (namespace ``api``). No trailing slashes."""

from rest_framework.routers import SimpleRouter

from . import api

router = SimpleRouter(trailing_slash="")
router.register("orders", api.OrderViewSet, basename="order")

urlpatterns = router.urls
