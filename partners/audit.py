"""The audit log: security- and money-relevant actions, written in the caller's transaction."""

import logging
from dataclasses import dataclass

from .models import ApiKey, AuditLogEntry, Partner, User

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Actor:
    """Who acts: a user, an API key or the system, and from which IP address."""

    user: User | None = None
    api_key: ApiKey | None = None
    ip_address: str | None = None

    @property
    def label(self) -> str:
        if self.api_key is not None:
            return f"API key {self.api_key.name} (bsk_{self.api_key.prefix})"
        if self.user is not None:
            return f"{self.user.email}{' (staff)' if self.user.is_staff else ''}"
        return "system"

    @classmethod
    def from_request(cls, request) -> "Actor":
        auth = getattr(request, "auth", None)
        user = getattr(request, "user", None)
        return cls(
            user=user if getattr(user, "is_authenticated", False) and isinstance(user, User) else None,
            api_key=auth if isinstance(auth, ApiKey) else None,
            ip_address=client_ip(request),
        )


SYSTEM = Actor()


def client_ip(request) -> str | None:
    """The client's address: REMOTE_ADDR (set the proxy to pass the real address as REMOTE_ADDR)."""
    return request.META.get("REMOTE_ADDR") or None


def record(*, actor: Actor, action: str, partner: Partner | None, target=None, data: dict | None = None) -> AuditLogEntry:
    """Append one entry. ``action`` is a stable code such as ``api_key.created``."""
    entry = AuditLogEntry.objects.create(
        partner=partner,
        actor_user=actor.user,
        actor_api_key=actor.api_key,
        actor_label=actor.label,
        ip_address=actor.ip_address,
        action=action,
        target_type=target._meta.model_name if target is not None else "",
        target_id=str(getattr(target, "public_id", None) or getattr(target, "pk", "") or ""),
        target_label=str(target)[:200] if target is not None else "",
        data=data or {},
    )
    logger.info("audit %s", action, extra={"partner": getattr(partner, "public_id", None), "actor": actor.label})
    return entry
