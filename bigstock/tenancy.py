"""Tenant scoping: the one mechanism every partner-facing read goes through.

* ``PartnerQuerySet.for_partner(partner)``: the queryset method.
* ``PartnerOwned``: the abstract model every partner-owned row inherits (non-null ``partner``).
* ``current_partner(request)``: who is calling, from the API key or the logged-in user's
  current membership, never from the request's body, query or headers.
* ``PartnerScopedMixin`` scopes any view's queryset; ``bigstock.api.PartnerScopedViewSet``
  (API) and ``partners.portal.PartnerPortalMixin`` (portal) are built on it. They live next
  to their frameworks because models import this module.
"""

from django.db import models
from django.utils.translation import gettext_lazy as _


class PartnerQuerySet(models.QuerySet):
    def for_partner(self, partner):
        if partner is None:
            return self.none()
        return self.filter(partner=partner)


class PartnerOwned(models.Model):
    partner = models.ForeignKey("partners.Partner", on_delete=models.PROTECT, related_name="+",
                                verbose_name=_("partner"))

    objects = PartnerQuerySet.as_manager()

    class Meta:
        abstract = True


def current_partner(request):
    """The partner the caller acts for, or None. Set by authentication / middleware only."""
    return getattr(request, "partner", None)


class PartnerScopedMixin:
    """For any view (portal or API) with a ``queryset`` or ``model``: only the caller's rows.

    Looking up another partner's object therefore gives 404, never 403: a partner cannot
    even learn that an id exists.
    """

    def get_queryset(self):
        queryset = getattr(self, "queryset", None)
        if queryset is None:
            queryset = self.model._default_manager.all()
        return queryset.all().for_partner(current_partner(self.request))

