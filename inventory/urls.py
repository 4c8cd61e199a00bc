from django.urls import path

from . import views

app_name = "inventory"

urlpatterns = [
    path("", views.CatalogueView.as_view(), name="catalogue"),
    path("<str:public_id>/", views.ProductView.as_view(), name="product"),
]
