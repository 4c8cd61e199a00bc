"""Rate limits: per API key at its partner's plan rate (``Plan.api_rate_per_min``; ``API_KEY_RATE``
without a plan), per user for the portal's calls, per IP otherwise.

A fixed window per caller, counted in Redis (shared by every process) rather than DRF's sliding
history, whose cost grows with the rate. Each process takes its caller's requests from the shared
count in small leases (a twentieth of the rate at a time) and serves the lease locally, so most
calls cost no round trip. A client gets at most its rate per window, and may send up to twice its
rate across a window boundary; near the limit, a lease taken by another process and not yet used
may refuse a request a little early (at most a twentieth of the rate per process).
"""

import threading
import time

from rest_framework.throttling import SimpleRateThrottle

from bigstock import flags

from .models import ApiKey

LEASE_SHARE = 20  # a lease is 1/LEASE_SHARE of the rate (at least one request)
_leases: dict[str, list[int]] = {}  # counter key -> [window, requests left in this process's lease]
_leases_lock = threading.Lock()
_generation = 0  # in the shared counters' keys: ``reset_leases`` starts new counts


class PartnerRateThrottle(SimpleRateThrottle):
    def __init__(self):
        # The scope, and so the rate, depends on who calls: chosen per request in allow_request.
        self.rate = None
        self._wait = None

    def _identify(self, request) -> tuple[str, str]:
        if isinstance(request.auth, ApiKey):
            return "api_key", f"key:{request.auth.pk}"
        if request.user and request.user.is_authenticated:
            return "user", f"user:{request.user.pk}"
        return "anon", f"ip:{self.get_ident(request)}"

    def _limit(self, request) -> tuple[int, int]:
        if self.scope == "api_key":
            from subscriptions.services import plan_terms

            per_minute = plan_terms(request.auth.partner).api_rate_per_min
            if per_minute is not None:
                return per_minute, 60
        return self.parse_rate(self.THROTTLE_RATES[self.scope])

    def allow_request(self, request, view):
        self.scope, ident = self._identify(request)
        self.num_requests, self.duration = self._limit(request)
        now = time.time()
        window = int(now // self.duration)
        if _take(f"throttle:{self.scope}:{ident}:{self.duration}", window=window,
                 limit=self.num_requests, ttl_s=self.duration + 1):
            return True
        self._wait = (window + 1) * self.duration - now
        return False

    def wait(self):
        return self._wait


def _take(key: str, *, window: int, limit: int, ttl_s: int) -> bool:
    """One request from the caller's budget for ``window``: from this process's lease, or from a
    new lease taken on the shared count (``False`` once the window's budget is spent)."""
    with _leases_lock:
        lease = _leases.get(key)
        if lease is not None and lease[0] == window and lease[1] > 0:
            lease[1] -= 1
            return True
    wanted = max(1, limit // LEASE_SHARE)
    total = flags.add(f"{key}:{_generation}:{window}", wanted, ttl_s=ttl_s)
    granted = min(wanted, limit - (total - wanted))
    if granted <= 0:
        return False
    with _leases_lock:
        if len(_leases) > 10_000:  # old windows' leases of callers gone quiet
            _leases.clear()
        _leases[key] = [window, granted - 1]
    return True


def reset_leases() -> None:
    """Forget this process's leases and count anew (tests: they reuse database ids, so callers)."""
    global _generation
    with _leases_lock:
        _leases.clear()
        _generation += 1
