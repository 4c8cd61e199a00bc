from django.conf import settings
from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from . import api, health, views

api_v1 = (
    [
        # The hottest first (stock feed, orders): each request walks the patterns in this order.
        path("", include("inventory.api_urls")),
        path("", include("orders.api_urls")),
        path("", api.api_root, name="root"),
        path("schema/", SpectacularAPIView.as_view(), name="schema"),
        path("docs/", SpectacularSwaggerView.as_view(url_name="api:schema"), name="docs"),
        path("", include("partners.api_urls")),
        path("", include("subscriptions.api_urls")),
        path("", include("support.api_urls")),
        re_path(r"^.*$", api.api_not_found),
    ],
    "api",
)

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("api/v1/", include(api_v1)),
    re_path(r"^api/.*$", api.api_not_found),
    path("admin/", admin.site.urls),
    path("accounts/", include("allauth.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("webhooks/stripe/", include("subscriptions.stripe_webhook_urls")),  # before partners' webhooks/<id>/
    path("billing/payment-method/", include("subscriptions.stripe_urls")),
    path("billing/", include("subscriptions.urls")),
    path("catalogue/", include("inventory.urls")),
    path("orders/", include("orders.urls")),
    path("support/", include("support.urls")),
    path("", include("partners.urls")),
]

handler400 = views.bad_request
handler403 = views.permission_denied
handler404 = views.page_not_found
handler500 = views.server_error

if settings.DEBUG:
    from django.conf.urls.static import static

    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
