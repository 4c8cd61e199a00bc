"""The portal's current partner: one of the logged-in user's memberships, chosen with the
partner switcher (kept in the session), never taken from the request's parameters."""

from django.shortcuts import redirect
from django.urls import reverse

from .models import Membership

SESSION_KEY = "current_partner"


def current_membership(request) -> Membership | None:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return None
    memberships = Membership.objects.filter(user=user).select_related("partner").order_by("created_at", "pk")
    chosen = request.session.get(SESSION_KEY)
    membership = memberships.filter(partner__public_id=chosen).first() if chosen else None
    return membership or memberships.first()


class CurrentPartnerMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        # Eager, not lazy: "no partner" must stay a real None for every check downstream.
        request.membership = current_membership(request)
        request.partner = request.membership.partner if request.membership else None
        return self.get_response(request)


class RequireTwoFactorMiddleware:
    """When the current partner requires 2FA, a member without an authenticator is sent to set one up."""

    ALLOWED_PREFIXES = ("/accounts/", "/i18n/", "/static/", "/api/", "/admin/", "/healthz", "/readyz", "/invitations/")

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not request.path.startswith(self.ALLOWED_PREFIXES) and self._needs_setup(request):
            return redirect(f"{reverse('mfa_activate_totp')}?next={request.path}")
        return self.get_response(request)

    @staticmethod
    def _needs_setup(request) -> bool:
        membership = request.membership
        if not membership or not membership.partner.require_2fa:
            return False
        from allauth.mfa.models import Authenticator

        return not Authenticator.objects.filter(user=request.user, type=Authenticator.Type.TOTP).exists()
