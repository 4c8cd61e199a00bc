"""Partner portal pages. Thin: each page reads through the partner-scoped queryset of
``PartnerPortalMixin`` and changes state only by calling one function of ``partners.services``."""

from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import ValidationError
from django.forms.models import model_to_dict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views import View
from django.views.generic import FormView, ListView, TemplateView

from bigstock.errors import DomainError
from bigstock.models import WebhookDelivery, WebhookEndpoint

from . import audit, services
from .audit import Actor
from .forms import (
    ApiKeyForm,
    AuditLogFilterForm,
    InvitationForm,
    InvitationSignupForm,
    PartnerProfileForm,
    RequireTwoFactorForm,
    RoleForm,
    WebhookEndpointForm,
)
from .middleware import SESSION_KEY
from .models import ApiKey, AuditLogEntry, Invitation, Membership, User
from .portal import (
    PortalAction,
    PortalFormPage,
    PortalPage,
    no_store,
    show_validation_error,
)

RECENT_DELIVERIES = 25


# --- The business -------------------------------------------------------------------------


class DashboardView(PortalPage, TemplateView):
    template_name = "partners/dashboard.html"


class OnboardingView(LoginRequiredMixin, FormView):
    """A signed-up user registers a business: it starts pending, with the user as owner."""

    template_name = "partners/onboarding.html"
    form_class = PartnerProfileForm

    def get_initial(self):
        return {"billing_email": self.request.user.email, "country": "FR"}

    def form_valid(self, form):
        try:
            partner = services.create_partner(
                owner=self.request.user, actor=Actor.from_request(self.request), **form.cleaned_data
            )
        except ValidationError as error:
            show_validation_error(form, error)
            return self.form_invalid(form)
        self.request.session[SESSION_KEY] = partner.public_id
        messages.success(self.request, _("Your business is registered. BigStock will review it shortly."))
        return redirect("partners:dashboard")


class ProfileView(PortalFormPage):
    """Owners and admins edit the profile; members see it read-only."""

    template_name = "partners/profile.html"
    form_class = PartnerProfileForm
    success_message = _("The business profile is saved.")

    def get_initial(self):
        return model_to_dict(self.partner, fields=services.PROFILE_FIELDS)

    def get_context_data(self, **kwargs):
        return super().get_context_data(
            two_factor_form=RequireTwoFactorForm(initial={"required": self.partner.require_2fa}), **kwargs
        )

    def get_success_url(self):
        return reverse("partners:profile")

    def submit(self, form):
        services.update_partner_profile(
            partner=self.partner, membership=self.membership, actor=self.actor, **form.cleaned_data
        )


class RequireTwoFactorView(PortalAction):
    redirect_to = "partners:profile"

    def perform(self):
        form = RequireTwoFactorForm(self.request.POST)
        required = form.is_valid() and form.cleaned_data["required"]
        services.set_require_2fa(partner=self.partner, membership=self.membership, required=required, actor=self.actor)
        if required:
            return _("Two-factor authentication is now required for every team member.")
        return _("Two-factor authentication is now optional.")


# --- The team -----------------------------------------------------------------------------


class TeamView(PortalFormPage):
    """Everyone sees the team; owners and admins invite (the form), change roles and remove."""

    template_name = "partners/team.html"
    form_class = InvitationForm

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "membership": self.membership}

    def get_context_data(self, **kwargs):
        return super().get_context_data(
            members=Membership.objects.for_partner(self.partner).select_related("user").order_by("user__email"),
            invitations=Invitation.objects.for_partner(self.partner).select_related("invited_by")[:50],
            role_form=RoleForm(),
            **kwargs,
        )

    def submit(self, form):
        invitation, _token = services.invite_member(
            partner=self.partner, membership=self.membership, actor=self.actor, **form.cleaned_data
        )
        messages.success(self.request, _("Invitation sent to %(email)s.") % {"email": invitation.email})
        return redirect("partners:team")


class TeamMemberAction(PortalAction):
    """Acts on a teammate named by email in the POST, looked up in this partner's team only."""

    model = Membership
    redirect_to = "partners:team"

    def get_object(self):
        return get_object_or_404(
            self.get_queryset().select_related("user", "partner"), user__email__iexact=self.request.POST.get("email", "")
        )


class ChangeRoleView(TeamMemberAction):
    def perform(self):
        target = self.get_object()
        form = RoleForm(self.request.POST)
        if not form.is_valid():
            raise DomainError(_("Choose a role."))
        target = services.change_role(
            target=target, role=form.cleaned_data["role"], membership=self.membership, actor=self.actor
        )
        return _("%(email)s is now %(role)s.") % {"email": target.user.email, "role": target.get_role_display()}


class RemoveMemberView(TeamMemberAction):
    def perform(self):
        target = self.get_object()
        services.remove_member(target=target, membership=self.membership, actor=self.actor)
        return _("%(email)s was removed from the team.") % {"email": target.user.email}


class LeaveTeamView(PortalAction):
    def perform(self):
        services.remove_member(target=self.membership, membership=self.membership, actor=self.actor)
        self.request.session.pop(SESSION_KEY, None)
        return _("You left %(partner)s.") % {"partner": self.partner}


class RevokeInvitationView(PortalAction):
    model = Invitation
    redirect_to = "partners:team"

    def perform(self):
        invitation = self.get_object()
        services.revoke_invitation(invitation=invitation, membership=self.membership, actor=self.actor)
        return _("The invitation to %(email)s is cancelled.") % {"email": invitation.email}


class InvitationView(View):
    """The public page behind an invitation link: accept, or create the account and accept."""

    template_name = "partners/invitation.html"

    def dispatch(self, request, *args, **kwargs):
        try:
            self.invitation = services.invitation_for_token(kwargs["token"])
        except services.InvitationInvalid as error:
            return self.invalid(error)
        return super().dispatch(request, *args, **kwargs)

    def invalid(self, error):
        return render(
            self.request, "partners/invitation_invalid.html",
            {"message": error.message, "lifetime_days": services.INVITATION_LIFETIME.days}, status=410,
        )

    def render_page(self, form=None):
        email = self.invitation.email
        context = {
            "invitation": self.invitation,
            "account_exists": User.objects.filter(email__iexact=email).exists(),
            "login_url": f"{reverse('account_login')}?{urlencode({'next': self.request.path})}",
            "form": form or InvitationSignupForm(email=email),
        }
        return render(self.request, self.template_name, context)

    def get(self, request, token):
        return self.render_page()

    def post(self, request, token):
        actor = Actor.from_request(request)
        if request.user.is_authenticated:
            try:
                membership = services.accept_invitation(token=token, user=request.user, actor=actor)
            except services.InvitationInvalid as error:
                return self.invalid(error)
            return self.joined(membership)
        form = InvitationSignupForm(request.POST, email=self.invitation.email)
        if not form.is_valid():
            return self.render_page(form)
        try:
            membership = services.create_account_from_invitation(
                token=token, password=form.cleaned_data["password1"], first_name=form.cleaned_data["first_name"],
                last_name=form.cleaned_data["last_name"], actor=actor,
            )
        except services.InvitationInvalid as error:
            return self.invalid(error)
        except DomainError as error:
            form.add_error(None, error.message)
            return self.render_page(form)
        login(request, membership.user, backend="django.contrib.auth.backends.ModelBackend")
        return self.joined(membership)

    def joined(self, membership):
        self.request.session[SESSION_KEY] = membership.partner.public_id
        messages.success(self.request, _("Welcome to %(partner)s.") % {"partner": membership.partner})
        return redirect("partners:dashboard")


# --- API keys -----------------------------------------------------------------------------


class ApiKeysView(PortalFormPage):
    required_permission = "manage_api_keys"
    model = ApiKey
    template_name = "partners/api_keys.html"
    form_class = ApiKeyForm

    def get_context_data(self, **kwargs):
        return super().get_context_data(keys=self.get_queryset().select_related("created_by"), **kwargs)

    def submit(self, form):
        key, secret = services.create_api_key(
            partner=self.partner, membership=self.membership, name=form.cleaned_data["name"],
            scopes=form.cleaned_data["scopes"], expires_at=form.expires_at(), actor=self.actor,
        )
        return no_store(render(self.request, "partners/api_key_created.html", {"key": key, "secret": secret}))


class RevokeApiKeyView(PortalAction):
    required_permission = "manage_api_keys"
    model = ApiKey
    redirect_to = "partners:api"

    def perform(self):
        key = services.revoke_api_key(key=self.get_object(), membership=self.membership, actor=self.actor)
        return _("The key %(name)s is revoked: it no longer works.") % {"name": key.name}


# --- Webhooks -----------------------------------------------------------------------------


class WebhooksView(PortalFormPage):
    required_permission = "manage_webhooks"
    model = WebhookEndpoint
    template_name = "partners/webhooks.html"
    form_class = WebhookEndpointForm

    def get_context_data(self, **kwargs):
        return super().get_context_data(endpoints=self.get_queryset().order_by("-created_at"), **kwargs)

    def submit(self, form):
        endpoint, secret = services.create_webhook_endpoint(
            partner=self.partner, membership=self.membership, actor=self.actor, **form.cleaned_data
        )
        return no_store(render(self.request, "partners/webhook_created.html", {"endpoint": endpoint, "secret": secret}))


class WebhookView(PortalFormPage):
    """One endpoint: edit it, see its recent deliveries and their attempts."""

    required_permission = "manage_webhooks"
    model = WebhookEndpoint
    template_name = "partners/webhook_detail.html"
    form_class = WebhookEndpointForm
    success_message = _("The endpoint is saved.")

    def dispatch(self, request, *args, **kwargs):
        self.endpoint = None
        return super().dispatch(request, *args, **kwargs)

    def get_endpoint(self):
        if self.endpoint is None:
            self.endpoint = get_object_or_404(self.get_queryset(), public_id=self.kwargs["public_id"])
        return self.endpoint

    def get_initial(self):
        endpoint = self.get_endpoint()
        return {"url": endpoint.url, "description": endpoint.description, "event_types": endpoint.event_types}

    def get_context_data(self, **kwargs):
        endpoint = self.get_endpoint()
        deliveries = (
            WebhookDelivery.objects.for_partner(self.partner).filter(endpoint=endpoint)
            .select_related("event").prefetch_related("attempts").order_by("-created_at", "-id")
        )
        return super().get_context_data(endpoint=endpoint, deliveries=deliveries[:RECENT_DELIVERIES], **kwargs)

    def get_success_url(self):
        return reverse("partners:webhook", args=[self.get_endpoint().public_id])

    def submit(self, form):
        services.update_webhook_endpoint(
            endpoint=self.get_endpoint(), membership=self.membership, actor=self.actor, **form.cleaned_data
        )


class WebhookAction(PortalAction):
    required_permission = "manage_webhooks"
    model = WebhookEndpoint

    def get_redirect_url(self):
        return reverse("partners:webhook", args=[self.kwargs["public_id"]])


class WebhookEnabledView(WebhookAction):
    def perform(self):
        enabled = self.request.POST.get("enabled") == "1"
        services.update_webhook_endpoint(
            endpoint=self.get_object(), membership=self.membership, actor=self.actor, enabled=enabled
        )
        return _("The endpoint is enabled.") if enabled else _("The endpoint is disabled: no more deliveries.")


class DeleteWebhookView(WebhookAction):
    def perform(self):
        endpoint = self.get_object()
        services.delete_webhook_endpoint(endpoint=endpoint, membership=self.membership, actor=self.actor)
        return _("The endpoint %(url)s is deleted.") % {"url": endpoint.url}

    def get_redirect_url(self):
        return reverse("partners:webhooks")


class TestWebhookView(WebhookAction):
    def perform(self):
        services.send_test_webhook(endpoint=self.get_object(), membership=self.membership, actor=self.actor)
        return _("A test event is on its way: its delivery appears below.")


class RedeliverWebhookView(WebhookAction):
    model = WebhookDelivery

    def get_object(self):
        return get_object_or_404(
            self.get_queryset(), public_id=self.kwargs["delivery_id"], endpoint__public_id=self.kwargs["public_id"]
        )

    def perform(self):
        services.redeliver_webhook(delivery=self.get_object(), membership=self.membership, actor=self.actor)
        return _("The event will be delivered again.")


# --- Audit log and partner switcher -------------------------------------------------------


class AuditLogView(PortalPage, ListView):
    required_permission = "view_audit_log"
    model = AuditLogEntry
    template_name = "partners/audit_log.html"
    context_object_name = "entries"
    paginate_by = 50

    def get_queryset(self):
        entries = super().get_queryset()
        actions = entries.order_by("action").values_list("action", flat=True).distinct()
        self.filter_form = AuditLogFilterForm(self.request.GET, actions=list(actions))
        if self.filter_form.is_valid() and self.filter_form.cleaned_data["action"]:
            entries = entries.filter(action=self.filter_form.cleaned_data["action"])
        return entries

    def get_context_data(self, **kwargs):
        query = urlencode({"action": self.filter_form.cleaned_data["action"]}) if self.filter_form.is_valid() else ""
        context = super().get_context_data(filter_form=self.filter_form, filter_query=query, **kwargs)
        for entry in context["entries"]:  # as the partner reads them, in their language
            entry.shown_action = audit.action_label(entry.action)
            entry.shown_actor = audit.shown_actor(entry.actor_label)
            entry.shown_target_type = audit.target_type_label(entry.target_type)
        return context


class SwitchPartnerView(LoginRequiredMixin, View):
    """Choose the current partner among the user's own memberships (anything else: 404)."""

    http_method_names = ["post"]

    def post(self, request):
        membership = get_object_or_404(
            Membership.objects.filter(user=request.user).select_related("partner"),
            partner__public_id=request.POST.get("partner", ""),
        )
        request.session[SESSION_KEY] = membership.partner.public_id
        messages.success(request, _("You are now working for %(partner)s.") % {"partner": membership.partner})
        return redirect("partners:dashboard")
