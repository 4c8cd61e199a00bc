"""Rate limits: per API key for partners' systems, per user for the portal, per IP otherwise."""

from rest_framework.throttling import SimpleRateThrottle

from .models import ApiKey


class PartnerRateThrottle(SimpleRateThrottle):
    def __init__(self):
        # The scope, and so the rate, depends on who calls: chosen per request in allow_request.
        self.rate = None

    def _identify(self, request) -> tuple[str, str]:
        if isinstance(request.auth, ApiKey):
            return "api_key", f"key:{request.auth.pk}"
        if request.user and request.user.is_authenticated:
            return "user", f"user:{request.user.pk}"
        return "anon", f"ip:{self.get_ident(request)}"

    def allow_request(self, request, view):
        self.scope, self._ident = self._identify(request)
        self.rate = self.get_rate()
        self.num_requests, self.duration = self.parse_rate(self.rate)
        return super().allow_request(request, view)

    def get_cache_key(self, request, view):
        return f"throttle:{self.scope}:{self._ident}"
