"""API permissions: a partner must be behind the call; keys are limited by scope, people by role."""

from django.utils.translation import gettext as _
from rest_framework import permissions

from . import roles
from .models import ApiKey


class PartnerAccess(permissions.BasePermission):
    """Default API permission.

    * API key: ``read`` allows safe methods, ``write`` the others.
    * Session (the portal's own calls): the user's role must allow the view's
      ``required_permission`` (for writes) and the user must belong to a partner.
    """

    message = _("You do not have permission to perform this action.")

    def has_permission(self, request, view) -> bool:
        if not request.user or not request.user.is_authenticated:
            return False
        partner = getattr(request, "partner", None)
        if partner is None:
            self.message = _("Your account does not belong to any partner yet.")
            return False
        scope = "read" if request.method in permissions.SAFE_METHODS else "write"
        if isinstance(request.auth, ApiKey):
            if not request.auth.has_scope(scope):
                self.message = _("This API key does not have the %(scope)s scope.") % {"scope": scope}
                return False
            return True
        required = getattr(view, "required_permission", None) if scope == "write" else None
        if required and not roles.can(request.membership, required):
            self.message = roles.denied_message(required)
            return False
        return True
