"""Staff screens for support: the ticket queue sorted by SLA due time with breach markers, a
ticket's whole thread (internal notes included) with the reply form, assignment, canned
replies, merging duplicates, the inbound email log and the figures per plan.

Every change goes through ``support.services`` (the SLA clock, events, emails).
"""

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.db.models import F
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from bigstock.admin import ReadOnlyModelAdmin
from bigstock.errors import DomainError
from partners.models import User

from . import selectors, services, sla
from .forms import StaffReplyForm
from .models import Attachment, CannedReply, InboundEmail, Message, SlaState, Status, Ticket
from .views import attachment_response

_SLA_BADGE_COLOURS = {SlaState.BREACHED: "#b91c1c", SlaState.AT_RISK: "#b45309", SlaState.ON_TRACK: "#15803d",
                      SlaState.PAUSED: "#6b7280", SlaState.DONE: "#6b7280"}


class QueueFilter(admin.SimpleListFilter):
    """The queue shows the tickets still to handle unless staff ask for others."""

    title = gettext_lazy("queue")
    parameter_name = "queue"

    def lookups(self, request, model_admin):
        return [("active", _("To handle (open, waiting)")), ("breached", _("Breached")),
                ("at_risk", _("Due soon")), ("unassigned", _("Unassigned")), ("mine", _("Assigned to me")),
                ("all", _("All tickets"))]

    def value(self):
        return super().value() or "active"

    def choices(self, changelist):
        for lookup, title in self.lookup_choices:
            yield {"selected": self.value() == lookup, "query_string":
                   changelist.get_query_string({self.parameter_name: lookup}), "display": title}

    def queryset(self, request, queryset):
        value, now = self.value(), timezone.now()
        if value == "all":
            return queryset
        active = queryset.exclude(status__in=[Status.RESOLVED, Status.CLOSED])
        if value == "breached":
            return active.filter(sla_due_at__lt=now)
        if value == "at_risk":
            soon = sla.add_business_hours(now, settings.BIGSTOCK_SUPPORT_ESCALATE_BEFORE_HOURS)
            return active.filter(sla_due_at__gte=now, sla_due_at__lte=soon)
        if value == "unassigned":
            return active.filter(assignee=None)
        if value == "mine":
            return active.filter(assignee=request.user)
        return active


class TicketAdminForm(forms.ModelForm):
    assignee = forms.ModelChoiceField(label=gettext_lazy("assignee"), required=False,
                                      queryset=User.objects.filter(is_staff=True, is_active=True).order_by("email"))

    class Meta:
        model = Ticket
        fields = ["assignee", "priority"]


@admin.register(Ticket)
class TicketAdmin(admin.ModelAdmin):
    form = TicketAdminForm
    change_form_template = "admin/support/ticket/change_form.html"
    change_list_template = "admin/support/ticket/change_list.html"
    list_display = ["reference", "subject", "partner", "status", "priority", "sla", "assignee", "plan",
                    "last_message_at"]
    list_display_links = ["reference", "subject"]
    list_filter = [QueueFilter, "status", "priority", "category", "plan__code"]
    list_select_related = ["partner", "assignee", "plan"]
    search_fields = ["reference", "public_id", "subject", "partner__legal_name", "partner__trade_name",
                     "partner__public_id", "order__reference"]
    ordering = [F("sla_due_at").asc(nulls_last=True), "created_at"]
    list_per_page = 50
    actions = ["assign_to_me", "resolve", "close", "reopen", "merge_into_oldest"]
    readonly_fields = ["reference", "public_id", "partner", "subject", "category", "status", "order_link",
                       "opened_by_label", "plan", "created_at", "first_response_due_at", "first_response_at",
                       "resolution_due_at", "resolved_at", "closed_at", "sla", "merged_into", "rating",
                       "rating_comment"]
    fieldsets = [
        (None, {"fields": ["reference", "partner", "subject", "category", "order_link", "opened_by_label",
                           "status", "merged_into"]}),
        (gettext_lazy("Handling"), {"fields": ["assignee", "priority"]}),
        (gettext_lazy("SLA"), {"fields": ["plan", "sla", "created_at", "first_response_due_at",
                                           "first_response_at", "resolution_due_at", "resolved_at", "closed_at"]}),
        (gettext_lazy("Rating"), {"fields": ["rating", "rating_comment"]}),
    ]

    def has_add_permission(self, request):
        return False  # tickets are opened by partners (portal, API, email)

    def has_delete_permission(self, request, obj=None):
        return False  # referenced, and the history of what was promised

    @admin.display(description=gettext_lazy("SLA"), ordering="sla_due_at")
    def sla(self, ticket):
        state = ticket.sla_state()
        due = ticket.sla_due_at
        label = SlaState(state).label
        when = timezone.localtime(due).strftime("%d/%m %H:%M") if due else ""
        return format_html('<span class="sla-badge" style="color:#fff;background:{};padding:1px 6px;'
                           'border-radius:8px" data-sla="{}">{}</span> {}', _SLA_BADGE_COLOURS[state], state,
                           label, when)

    @admin.display(description=gettext_lazy("order"))
    def order_link(self, ticket):
        if ticket.order_id is None:
            return "—"
        url = reverse("admin:orders_order_change", args=[ticket.order_id]) if self._has_order_admin() else ""
        return format_html('<a href="{}">{}</a>', url, ticket.order.reference) if url else ticket.order.reference

    def _has_order_admin(self) -> bool:
        from orders.models import Order

        return Order in self.admin_site._registry

    def save_model(self, request, obj, form, change):
        """Assignment and priority through the services (notes on the thread, email to the assignee)."""
        original = Ticket.objects.get(pk=obj.pk)
        if "assignee" in form.changed_data:
            services.assign_ticket(ticket=original, assignee=form.cleaned_data["assignee"], by=request.user)
        if "priority" in form.changed_data:
            services.set_priority(ticket=original, priority=form.cleaned_data["priority"], by=request.user)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        ticket = self.get_object(request, object_id)
        extra = {}
        if ticket is not None:
            extra = {
                "thread": Message.objects.filter(ticket=ticket).select_related("author_user")
                .prefetch_related("attachments"),
                "reply_form": StaffReplyForm(),
                "canned_bodies": {str(reply.pk): reply.body for reply in CannedReply.objects.filter(is_active=True)},
                "reply_url": reverse("admin:support_ticket_reply", args=[ticket.pk]),
                "merged_tickets": ticket.merged_tickets.all(),
            }
        return super().change_view(request, object_id, form_url, {**extra, **(extra_context or {})})

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("figures/", view(self.figures_view), name="support_ticket_figures"),
            path("<path:object_id>/reply/", view(self.reply_view), name="support_ticket_reply"),
            path("attachment/<str:public_id>/", view(self.attachment_view), name="support_ticket_attachment"),
            *super().get_urls(),
        ]

    def reply_view(self, request, object_id):
        """The reply form of the change page: a reply to the partner or an internal note."""
        ticket = get_object_or_404(Ticket, pk=object_id)
        change_url = reverse("admin:support_ticket_change", args=[ticket.pk])
        if request.method != "POST" or not self.has_change_permission(request, ticket):
            return HttpResponseRedirect(change_url)
        form = StaffReplyForm(request.POST, request.FILES)
        if form.is_valid():
            data = form.cleaned_data
            try:
                services.reply_as_staff(ticket=ticket, body=data["body"], by=request.user, files=data["files"],
                                        internal=data["internal"], then=data["then"])
            except DomainError as error:
                self.message_user(request, error.message, messages.ERROR)
            else:
                self.message_user(request, _("Internal note added.") if data["internal"] else
                                  _("Reply sent to the partner."), messages.SUCCESS)
        else:
            self.message_user(request, " ".join(str(e) for errors in form.errors.values() for e in errors),
                              messages.ERROR)
        return HttpResponseRedirect(change_url)

    def attachment_view(self, request, public_id):
        return attachment_response(get_object_or_404(Attachment, public_id=public_id))

    def figures_view(self, request):
        """Per plan: median first response (business hours, last 30 days) and breaches this week."""
        now = timezone.now()
        context = {
            **self.admin_site.each_context(request),
            "title": _("Support figures"),
            "opts": self.model._meta,
            "rows": selectors.figures_by_plan(now=now),
            "week_start": selectors.week_start(now),
            "window_days": selectors.FIGURES_WINDOW.days,
        }
        return TemplateResponse(request, "admin/support/figures.html", context)

    # --- Actions --------------------------------------------------------------------------------

    def _each(self, request, queryset, operation, done: str):
        count = 0
        for ticket in queryset:
            try:
                operation(ticket)
            except DomainError as error:
                self.message_user(request, f"{ticket.reference}: {error.message}", messages.WARNING)
            else:
                count += 1
        if count:
            self.message_user(request, done % {"count": count}, messages.SUCCESS)

    @admin.action(description=gettext_lazy("Assign to me"), permissions=["change"])
    def assign_to_me(self, request, queryset):
        self._each(request, queryset, lambda t: services.assign_ticket(ticket=t, assignee=request.user,
                                                                       by=request.user),
                   ngettext("%(count)d ticket assigned to you.", "%(count)d tickets assigned to you.",
                            queryset.count()))

    @admin.action(description=gettext_lazy("Mark resolved (the partner is told)"), permissions=["change"])
    def resolve(self, request, queryset):
        self._each(request, queryset, lambda t: services.resolve_ticket(ticket=t, by=request.user),
                   ngettext("%(count)d ticket resolved.", "%(count)d tickets resolved.", queryset.count()))

    @admin.action(description=gettext_lazy("Close"), permissions=["change"])
    def close(self, request, queryset):
        self._each(request, queryset, lambda t: services.close_ticket(ticket=t, by=request.user),
                   ngettext("%(count)d ticket closed.", "%(count)d tickets closed.", queryset.count()))

    @admin.action(description=gettext_lazy("Reopen"), permissions=["change"])
    def reopen(self, request, queryset):
        self._each(request, queryset, lambda t: services.reopen_as_staff(ticket=t, by=request.user),
                   ngettext("%(count)d ticket reopened.", "%(count)d tickets reopened.", queryset.count()))

    @admin.action(description=gettext_lazy("Merge the selected duplicates into the oldest one"),
                  permissions=["change"])
    def merge_into_oldest(self, request, queryset):
        tickets = list(queryset.order_by("created_at", "pk"))
        if len(tickets) < 2:
            self.message_user(request, _("Select at least two tickets of the same partner."), messages.WARNING)
            return
        if len({ticket.partner_id for ticket in tickets}) > 1:
            self.message_user(request, _("Only tickets of the same partner can be merged."), messages.ERROR)
            return
        into, duplicates = tickets[0], tickets[1:]
        self._each(request, duplicates, lambda t: services.merge_tickets(duplicate=t, into=into, by=request.user),
                   ngettext("%(count)d ticket merged into {reference}.", "%(count)d tickets merged into {reference}.",
                            len(duplicates)).replace("{reference}", into.reference))


@admin.register(CannedReply)
class CannedReplyAdmin(admin.ModelAdmin):
    list_display = ["title", "is_active", "created_at"]
    list_filter = ["is_active"]
    search_fields = ["title", "body"]


@admin.register(InboundEmail)
class InboundEmailAdmin(ReadOnlyModelAdmin):
    """What came in by email and what became of it: unknown senders and the rest wait here for staff."""

    list_display = ["received_at", "from_address", "subject", "outcome", "ticket_reference", "partner"]
    list_filter = ["outcome"]
    list_select_related = ["ticket", "partner"]
    search_fields = ["from_address", "subject", "email_message_id", "ticket__reference"]
    date_hierarchy = "received_at"
    fields = ["received_at", "outcome", "note", "from_address", "to_addresses", "subject", "email_message_id", "partner",
              "ticket", "message", "size_bytes", "body_excerpt"]

    @admin.display(description=gettext_lazy("ticket"), ordering="ticket__reference")
    def ticket_reference(self, record):
        return record.ticket.reference if record.ticket_id else "—"

