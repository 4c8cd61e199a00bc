"""The support pages, under ``/support/`` (namespace ``support``)."""

from django.urls import path

from . import views

app_name = "support"

urlpatterns = [
    path("", views.TicketListView.as_view(), name="tickets"),
    path("new/", views.NewTicketView.as_view(), name="new_ticket"),
    path("inbound-email", views.InboundEmailView.as_view(), name="inbound_email"),
    path("attachments/<str:public_id>/", views.AttachmentView.as_view(), name="attachment"),
    path("<str:public_id>/", views.TicketView.as_view(), name="ticket"),
    path("<str:public_id>/reopen/", views.ReopenView.as_view(), name="reopen"),
    path("<str:public_id>/rate/", views.RateView.as_view(), name="rate"),
]
