"""The portal's base for partner pages: logged in, belongs to a partner, role allows the page,
and every queryset scoped to that partner (``bigstock.tenancy.PartnerScopedMixin``)."""

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect

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

