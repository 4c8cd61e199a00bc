"""The API side of standing: an inactive or suspended partner's API is read-only."""

from django.utils.translation import gettext as _
from rest_framework import permissions

from bigstock.errors import Forbidden

from . import standing
from .models import Standing


class ReadOnlyStanding(Forbidden):
    code = "standing_read_only"


class StandingAllowsWrites(permissions.BasePermission):
    """Reads always; writes only while the partner is ``active`` or in its ``grace`` period."""

    def has_permission(self, request, view) -> bool:
        partner = getattr(request, "partner", None)
        if request.method in permissions.SAFE_METHODS or partner is None:
            return True
        level = standing.recent_level_for(partner)
        if level == Standing.Level.INACTIVE:
            raise ReadOnlyStanding(_("Your account has no active subscription: the API is read-only until you "
                                     "subscribe in the portal (Billing)."))
        if level == Standing.Level.SUSPENDED:
            raise ReadOnlyStanding(_("Your account is suspended: the API is read-only until the overdue balance "
                                     "is paid (Billing in the portal)."))
        return True
