"""Who may do what: the one place role rules live. Views, API and services ask ``can()``
or call ``require()``; nothing else compares roles."""

from django.utils.translation import gettext_lazy as _

from bigstock.errors import Forbidden

from .models import Role

OWNER, ADMIN, MEMBER = Role.OWNER, Role.ADMIN, Role.MEMBER

PERMISSIONS: dict[str, frozenset[str]] = {
    "view_portal": frozenset({OWNER, ADMIN, MEMBER}),
    "place_orders": frozenset({OWNER, ADMIN, MEMBER}),
    "open_tickets": frozenset({OWNER, ADMIN, MEMBER}),
    "manage_team": frozenset({OWNER, ADMIN}),
    "manage_billing": frozenset({OWNER, ADMIN}),
    "manage_profile": frozenset({OWNER, ADMIN}),
    "manage_api_keys": frozenset({OWNER, ADMIN}),
    "manage_webhooks": frozenset({OWNER, ADMIN}),
    "manage_owners": frozenset({OWNER}),
    "manage_security": frozenset({OWNER}),
    "view_audit_log": frozenset({OWNER}),
}

_DENIED = {
    "manage_team": _("Only owners and admins can manage the team."),
    "manage_billing": _("Only owners and admins can manage billing."),
    "manage_profile": _("Only owners and admins can change the business profile."),
    "manage_api_keys": _("Only owners and admins can manage API keys."),
    "manage_webhooks": _("Only owners and admins can manage webhooks."),
    "manage_owners": _("Only owners can add, change or remove an owner."),
    "manage_security": _("Only owners can change the team's security settings."),
    "view_audit_log": _("Only owners can see the audit log."),
}


def can(membership, permission: str) -> bool:
    if permission not in PERMISSIONS:
        raise KeyError(f"unknown permission {permission!r}")
    return membership is not None and membership.role in PERMISSIONS[permission]


def denied_message(permission: str) -> str:
    """What a person reads when their role does not allow ``permission``."""
    return str(_DENIED.get(permission, _("Your role does not allow this action.")))


def require(membership, permission: str) -> None:
    """Raise ``Forbidden`` (403 in the API, a message in the portal) unless the role allows it."""
    if not can(membership, permission):
        raise Forbidden(denied_message(permission))
