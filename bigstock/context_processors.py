"""What every portal page needs: the navigation and the languages."""

from django.conf import settings
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext_lazy as _

from partners import roles

# (url name, label, the permission its page needs). A section appears as "coming soon" until its
# URL exists; a team member sees only the sections their role opens.
NAVIGATION = [
    ("partners:dashboard", _("Dashboard"), None),
    ("inventory:catalogue", _("Catalogue & stock"), None),
    ("orders:list", _("Orders"), None),
    ("subscriptions:billing", _("Billing"), None),
    ("support:tickets", _("Support"), None),
    ("partners:team", _("Team"), None),
    ("partners:api", _("API & webhooks"), "manage_api_keys"),
]


def _navigation(request):
    membership = getattr(request, "membership", None)
    items = []
    for url_name, label, permission in NAVIGATION:
        if permission and membership is not None and not roles.can(membership, permission):
            continue
        try:
            url = reverse(url_name)
        except NoReverseMatch:
            url = None
        active = url is not None and (request.path == url if url == "/" else request.path.startswith(url))
        items.append({"label": label, "url": url, "active": active})
    return items


def _partner_switcher(request):
    """The current partner's name in the header, and a switcher when the user has several."""
    if getattr(request, "membership", None) is None:
        return {}
    memberships = list(request.user.memberships.select_related("partner").order_by("partner__legal_name"))
    return {"partner_switcher": "partners/_partner_switcher.html", "memberships": memberships}


def portal(request):
    return {
        "navigation": _navigation(request),
        "support_email": settings.BIGSTOCK_SUPPORT_EMAIL,
        **_partner_switcher(request),
    }
