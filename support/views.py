"""Support pages of the partner portal, under ``/support/``: the tickets list, a new ticket (with
the order picker; ``?order=<order id>`` from an order's page), a ticket's thread with its reply
form, reopen and rating; attachments served only to their partner.

Thin: reads through the partner-scoped querysets (never an internal note: see
``Message.objects.visible_to_partner``); every change is one call to ``support.services``.
Also the inbound email endpoint a mail relay posts raw messages to.
"""

import hmac

from django.conf import settings
from django.contrib import messages
from django.db.models import Q
from django.http import FileResponse, Http404, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.decorators import method_decorator
from django.utils.translation import gettext as _
from django.views import View
from django.views.decorators.csrf import csrf_exempt
from django.views.generic import ListView

from bigstock.errors import DomainError
from orders.models import Order
from partners.portal import PartnerPortalMixin, PortalAction, PortalFormPage, PortalPage

from . import inbound, services
from .forms import RatingForm, ReplyForm, TicketFilterForm, TicketForm
from .models import Attachment, Category, Message, Ticket

TICKETS_PER_PAGE = 25
RECENT_ORDERS = 50


def attachment_response(attachment: Attachment) -> FileResponse:
    """The file as a download, with the type we recognised, never rendered by the browser."""
    try:
        handle = attachment.file.open("rb")
    except FileNotFoundError:
        raise Http404 from None
    response = FileResponse(handle, as_attachment=True, filename=attachment.filename,
                            content_type=attachment.content_type)
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Cache-Control"] = "private, no-store"
    return response


class TicketListView(PortalPage, ListView):
    model = Ticket
    template_name = "support/tickets.html"
    context_object_name = "tickets"
    paginate_by = TICKETS_PER_PAGE

    def get_queryset(self):
        tickets = super().get_queryset().select_related("order").order_by("-last_message_at", "-pk")
        self.filter_form = TicketFilterForm(self.request.GET or None)
        if self.filter_form.is_valid():
            status = self.filter_form.cleaned_data["status"]
            if status == TicketFilterForm.ACTIVE:
                tickets = tickets.exclude(status="closed")
            elif status:
                tickets = tickets.filter(status=status)
            if category := self.filter_form.cleaned_data["category"]:
                tickets = tickets.filter(category=category)
            if query := self.filter_form.cleaned_data["q"].strip():
                tickets = tickets.filter(Q(reference__icontains=query) | Q(subject__icontains=query))
        return tickets

    def get_context_data(self, **kwargs):
        query = self.request.GET.copy()
        query.pop("page", None)
        return super().get_context_data(filter_form=self.filter_form, filter_query=query.urlencode(), **kwargs)


class NewTicketView(PortalFormPage):
    """``?order=<order id or reference>`` (the link on an order's page) picks the order; an order
    that is not the partner's is not found (404), like any other partner's object."""

    required_permission = "open_tickets"
    template_name = "support/new_ticket.html"
    form_class = TicketForm

    def get_initial(self):
        initial = {}
        if reference := self.request.GET.get("order", "").strip():
            try:
                order = services.find_order(partner=self.partner, reference=reference)
            except services.OrderNotFound:
                raise Http404(_("No such order in your account.")) from None
            initial.update(order=order.reference, category=Category.ORDER)
        if previous_id := self.request.GET.get("follow_up", "").strip():
            previous = get_object_or_404(self.get_tickets(), public_id=previous_id)
            initial.update(subject=_("Follow-up to %(reference)s: %(subject)s")
                           % {"reference": previous.reference, "subject": previous.subject}, category=previous.category,
                           order=previous.order.reference if previous.order else "")
        return initial

    def get_tickets(self):
        return Ticket.objects.for_partner(self.partner)

    def get_context_data(self, **kwargs):
        recent = Order.objects.for_partner(self.partner).order_by("-created_at").values(
            "reference", "status", "created_at")[:RECENT_ORDERS]
        return super().get_context_data(recent_orders=recent, **kwargs)

    def submit(self, form):
        data = form.cleaned_data
        ticket = services.open_ticket(
            partner=self.partner, subject=data["subject"], body=data["body"], category=data["category"],
            priority=data["priority"], order=services.find_order(partner=self.partner, reference=data["order"]),
            files=data["files"], actor=self.actor,
        )
        messages.success(self.request, _("Ticket %(reference)s is open. We answer by %(due)s at the latest.") % {
            "reference": ticket.reference,
            "due": formats.date_format(timezone.localtime(ticket.first_response_due_at), "SHORT_DATETIME_FORMAT")})
        return redirect("support:ticket", public_id=ticket.public_id)


class TicketMixin:
    model = Ticket

    def get_ticket(self) -> Ticket:
        return get_object_or_404(self.get_queryset().select_related("order", "merged_into"),
                                 public_id=self.kwargs["public_id"])


class TicketView(TicketMixin, PortalFormPage):
    """The thread (never an internal note) and the reply form. A reply to a closed ticket is
    not sent: the page says so and offers to reopen the ticket or open a new one with the text."""

    required_permission = "view_portal"
    template_name = "support/ticket.html"
    form_class = ReplyForm

    def dispatch(self, request, *args, **kwargs):
        if request.method == "POST":
            self.required_permission = "open_tickets"
        return super().dispatch(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        ticket = self.ticket
        thread = (Message.objects.for_partner(self.partner).visible_to_partner().filter(ticket=ticket)
                  .prefetch_related("attachments"))
        return super().get_context_data(
            ticket=ticket, thread=thread, can_reopen=ticket.can_reopen(), rating_form=RatingForm(),
            auto_close_days=settings.BIGSTOCK_SUPPORT_AUTO_CLOSE_DAYS,
            **kwargs,
        )

    def get(self, request, *args, **kwargs):
        self.ticket = self.get_ticket()
        return super().get(request, *args, **kwargs)

    def post(self, request, *args, **kwargs):
        self.ticket = self.get_ticket()
        return super().post(request, *args, **kwargs)

    def submit(self, form):
        try:
            services.reply_as_partner(ticket=self.ticket, body=form.cleaned_data["body"],
                                      files=form.cleaned_data["files"], actor=self.actor)
        except services.TicketClosed as error:
            return render(self.request, "support/closed_reply.html", self.get_context_data(
                form=form, closed_message=error.message), status=409)
        messages.success(self.request, _("Your reply is sent."))
        return redirect("support:ticket", public_id=self.ticket.public_id)


class TicketAction(TicketMixin, PortalAction):
    required_permission = "open_tickets"

    def get_redirect_url(self) -> str:
        return reverse("support:ticket", kwargs={"public_id": self.kwargs["public_id"]})


class ReopenView(TicketAction):
    """Reopen; with ``body`` (from the closed-ticket page), reopen and send the reply."""

    def perform(self):
        ticket = services.reopen_ticket(ticket=self.get_ticket(), actor=self.actor,
                                        body=self.request.POST.get("body", ""))
        return _("Ticket %(reference)s is open again.") % {"reference": ticket.reference}


class RateView(TicketAction):
    def perform(self):
        form = RatingForm(self.request.POST)
        if not form.is_valid():
            raise DomainError(_("Choose a rating from 1 to 5."))
        services.rate_ticket(ticket=self.get_ticket(), rating=form.cleaned_data["rating"],
                             comment=form.cleaned_data["comment"], actor=self.actor)
        return _("Thank you for your rating.")


class AttachmentView(PartnerPortalMixin, View):
    """A file of the partner's own tickets, never one of an internal note: anything else is 404."""

    def get(self, request, public_id):
        attachment = get_object_or_404(Attachment.objects.for_partner(self.partner).visible_to_partner(),
                                       public_id=public_id)
        return attachment_response(attachment)


@method_decorator(csrf_exempt, name="dispatch")
class InboundEmailView(View):
    """``POST`` a raw RFC 822 message (``Content-Type: message/rfc822``) with
    ``Authorization: Bearer <BIGSTOCK_SUPPORT_INBOUND_SECRET>``. Absent without a secret."""

    http_method_names = ["post"]

    def post(self, request):
        secret = settings.BIGSTOCK_SUPPORT_INBOUND_SECRET
        if not secret:
            raise Http404
        given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        if not hmac.compare_digest(given.encode(), secret.encode()):
            return JsonResponse({"error": {"code": "not_authenticated", "message": "Bad inbound secret.",
                                           "fields": {}}}, status=401)
        limit = settings.BIGSTOCK_SUPPORT_MAX_ATTACHMENT_BYTES * (settings.BIGSTOCK_SUPPORT_MAX_ATTACHMENTS + 1) * 2
        raw = request.read(limit + 1)
        if len(raw) > limit:
            return HttpResponse(status=413)
        record = inbound.receive(raw)
        return JsonResponse({"outcome": record.outcome, "id": record.pk}, status=202)
