"""The audit log: security- and money-relevant actions, written in the caller's transaction."""

import functools
import logging
from dataclasses import dataclass

from django.apps import apps
from django.utils.translation import gettext_lazy as _

from .models import ApiKey, AuditLogEntry, Partner, User

logger = logging.getLogger(__name__)

# Every action the log records, as a person reads it. Apps add theirs here as they start recording them.
ACTIONS: dict[str, str] = {
    "user.logged_in": _("Signed in"),
    "authenticator.added": _("Two-factor authentication set up"),
    "authenticator.reset": _("Two-factor recovery codes renewed"),
    "authenticator.removed": _("Two-factor authentication removed"),
    "partner.created": _("Account created"),
    "partner.updated": _("Business profile updated"),
    "partner.pending": _("Account back to pending approval"),
    "partner.active": _("Account approved or reopened"),
    "partner.suspended": _("Account suspended"),
    "partner.closed": _("Account closed"),
    "partner.2fa_required": _("Two-factor authentication required for the team"),
    "partner.2fa_optional": _("Two-factor authentication made optional"),
    "invitation.created": _("Invitation sent"),
    "invitation.revoked": _("Invitation revoked"),
    "member.added": _("Member joined"),
    "member.role_changed": _("Member's role changed"),
    "member.removed": _("Member removed"),
    "api_key.created": _("API key created"),
    "api_key.revoked": _("API key revoked"),
    "webhook_endpoint.created": _("Webhook endpoint added"),
    "webhook_endpoint.updated": _("Webhook endpoint changed"),
    "webhook_endpoint.deleted": _("Webhook endpoint deleted"),
    "plan.version_created": _("New version of a plan"),
    "plan.archived": _("Plan archived"),
    "subscription.created": _("Subscription started"),
    "subscription.plan_changed": _("Plan changed"),
    "subscription.change_undone": _("Scheduled plan change undone"),
    "subscription.canceled": _("Subscription cancelled"),
    "subscription.resumed": _("Subscription resumed"),
    "subscription.rail_changed": _("Means of payment changed"),
    "subscription.grace_extended": _("Grace period extended"),
    "payment_method.saved": _("Payment method saved"),
    "payment_method.removed": _("Payment method removed"),
    "payment_method.detached_in_stripe": _("Payment method removed in Stripe"),
    "payment.recorded": _("Payment recorded"),
    "credit_note.issued": _("Credit note issued"),
    "order.hold_released": _("Order released from hold"),
}


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
    """Append one entry. ``action`` is a stable code of ``ACTIONS`` such as ``api_key.created``."""
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}: add it to partners.audit.ACTIONS")
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


def action_label(action: str) -> str:
    """The action in the active language (its code if it is no longer recorded)."""
    return str(ACTIONS.get(action, action))


def action_choices(actions) -> list[tuple[str, str]]:
    """``actions`` as (code, words) choices, in the order of their words."""
    return sorted(((action, action_label(action)) for action in actions), key=lambda choice: choice[1])


def target_type_label(target_type: str) -> str:
    """The kind of object (a model's name as stored) in the active language: "facture", not "invoice"."""
    model = _models_by_name().get(target_type)
    return str(model._meta.verbose_name) if model is not None else target_type


@functools.cache
def _models_by_name() -> dict:
    return {model._meta.model_name: model for model in apps.get_models()}


def shown_actor(label: str) -> str:
    """Who did it, as a partner reads it: BigStock's staff and machinery are "BigStock"."""
    if label == "system" or label.endswith("(staff)"):
        return "BigStock"
    return label
