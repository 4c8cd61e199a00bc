"""The portal's base for partner pages: logged in, belongs to a partner, role allows the page,
and every queryset scoped to that partner (``bigstock.tenancy.PartnerScopedMixin``)."""

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.views import View
from django.views.generic import FormView

from bigstock.errors import DomainError
from bigstock.tenancy import PartnerScopedMixin

from . import roles
from .audit import Actor


class PartnerPortalMixin(LoginRequiredMixin, PartnerScopedMixin):
    """``required_permission`` names a rule in ``partners.roles`` (default: any team member)."""

    required_permission = "view_portal"

    def dispatch(self, request, *args, **kwargs):
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        if request.membership is None:
            return redirect("partners:onboarding")
        if not roles.can(request.membership, self.required_permission):
            raise PermissionDenied(roles.denied_message(self.required_permission))
        return super().dispatch(request, *args, **kwargs)

    @property
    def partner(self):
        return self.request.partner

    @property
    def membership(self):
        return self.request.membership

    @property
    def actor(self) -> Actor:
        return Actor.from_request(self.request)

    def domain_error(self, error: DomainError, form=None):
        """The one portal path for a refused operation: on the form when there is one, else a message."""
        if form is not None:
            for field, field_errors in error.fields.items():
                if field in form.fields:
                    for message in field_errors:
                        form.add_error(field, message)
            form.add_error(None, error.message)
        else:
            messages.error(self.request, error.message)


def show_validation_error(form, error: ValidationError) -> None:
    """A model's ``full_clean()`` errors next to the form's fields (the others above the form)."""
    if not hasattr(error, "error_dict"):
        form.add_error(None, error)
        return
    for field, field_errors in error.error_dict.items():
        form.add_error(field if field in form.fields else None, field_errors)


def no_store(response):
    """Pages showing a secret once must not be kept by the browser or a proxy."""
    response["Cache-Control"] = "no-store"
    return response


class PortalPage(PartnerPortalMixin):
    """A portal page: its template knows the partner, the membership and what the role allows."""

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context.update(
            partner=self.partner,
            membership=self.membership,
            can={permission: roles.can(self.membership, permission) for permission in roles.PERMISSIONS},
        )
        return context


class PortalFormPage(PortalPage, FormView):
    """A page with one form whose submission calls one service (``submit``)."""

    success_message = ""

    def submit(self, form):
        raise NotImplementedError

    def form_valid(self, form):
        try:
            response = self.submit(form)
        except ValidationError as error:
            show_validation_error(form, error)
            return self.form_invalid(form)
        except DomainError as error:
            self.domain_error(error, form)
            return self.form_invalid(form)
        if self.success_message:
            messages.success(self.request, self.success_message)
        return response or redirect(self.get_success_url())


class PortalAction(PartnerPortalMixin, View):
    """A button: one POST, one service call, a message, back to a page."""

    http_method_names = ["post"]
    redirect_to = "partners:dashboard"

    def get_object(self):
        return get_object_or_404(self.get_queryset(), public_id=self.kwargs["public_id"])

    def perform(self) -> str:
        """Call the service; return the success message."""
        raise NotImplementedError

    def get_redirect_url(self) -> str:
        return reverse(self.redirect_to)

    def post(self, request, *args, **kwargs):
        try:
            message = self.perform()
        except DomainError as error:
            self.domain_error(error)
        else:
            messages.success(request, message)
        return redirect(self.get_redirect_url())
