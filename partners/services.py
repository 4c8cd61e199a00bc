"""Every state change of partners, teams and keys: one function, one transaction each.

Callers (portal views, API views, admin actions) pass the acting ``Actor`` for the audit log
and the caller's ``Membership`` where a role rule applies; the rule is checked here, through
``partners.roles``, so no entry point can skip it.
"""

import hashlib
import hmac
import logging
import secrets
from datetime import datetime, timedelta

from allauth.account.models import EmailAddress
from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from bigstock import events, hotcache, mail, webhooks
from bigstock.errors import Conflict, DomainError

from . import audit, roles
from .audit import Actor
from .models import ApiKey, Invitation, Membership, Partner, Role, User

logger = logging.getLogger(__name__)

INVITATION_LIFETIME = timedelta(days=7)
API_KEY_PREFIX_LENGTH = 8

PROFILE_FIELDS = [
    "legal_name", "trade_name", "siret", "vat_number", "legal_form", "address_line1", "address_line2",
    "postcode", "city", "country", "billing_email", "phone",
]


class InvitationInvalid(DomainError):
    code = "invitation_invalid"
    status_code = 410


class LastOwner(Conflict):
    code = "last_owner"


class ApiKeyError(DomainError):
    status_code = 401


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _partner_payload(partner: Partner) -> dict:
    return {"id": partner.public_id, "legal_name": partner.legal_name, "status": partner.status}


def _owner_emails(partner: Partner) -> list[str]:
    return list(
        partner.memberships.filter(role=Role.OWNER, user__is_active=True).values_list("user__email", flat=True)
    )


def _email(*, to: list[str], template: str, context: dict) -> None:
    if not to:
        return
    subject, body = mail.bilingual(f"partners/email/{template}", {**context, "site_url": settings.BIGSTOCK_SITE_URL})
    send_mail(subject, body, None, to)


# --- The business -------------------------------------------------------------------------


@transaction.atomic
def create_partner(*, owner: User, actor: Actor, **profile) -> Partner:
    """A signed-up user registers a business: it starts ``pending`` with the user as owner."""
    partner = Partner(**{field: value for field, value in profile.items() if field in PROFILE_FIELDS})
    partner.full_clean()
    partner.save()
    Membership.objects.create(user=owner, partner=partner, role=Role.OWNER)
    audit.record(actor=actor, action="partner.created", partner=partner, target=partner)
    return partner


@transaction.atomic
def update_partner_profile(*, partner: Partner, membership: Membership | None, actor: Actor, **changes) -> Partner:
    """Owners and admins edit the business profile and billing details (staff through the admin)."""
    if membership is not None:
        roles.require(membership, "manage_profile")
    partner = Partner.objects.select_for_update().get(pk=partner.pk)
    before = {field: str(getattr(partner, field)) for field in PROFILE_FIELDS}
    for field, value in changes.items():
        if field not in PROFILE_FIELDS:
            raise ValueError(f"{field} is not a profile field")
        setattr(partner, field, value)
    partner.full_clean()
    partner.save()
    changed = {f: [before[f], str(getattr(partner, f))] for f in PROFILE_FIELDS if before[f] != str(getattr(partner, f))}
    if changed:
        audit.record(actor=actor, action="partner.updated", partner=partner, target=partner, data={"changes": changed})
        events.publish(partner=partner, type="partner.updated", data=_partner_payload(partner))
    return partner


@transaction.atomic
def set_partner_status(*, partner: Partner, status: str, actor: Actor, reason: str = "") -> Partner:
    """Staff approve, suspend, close or reopen a partner. Approval emails the owners."""
    partner = Partner.objects.select_for_update().get(pk=partner.pk)
    if partner.status == status:
        return partner
    previous = partner.status
    partner.status = status
    if status == Partner.Status.ACTIVE and partner.approved_at is None:
        partner.approved_at = timezone.now()
    partner.save(update_fields=["status", "approved_at", "updated_at"])
    audit.record(
        actor=actor, action=f"partner.{status}", partner=partner, target=partner,
        data={"from": previous, "to": status, "reason": reason},
    )
    if status == Partner.Status.ACTIVE and previous == Partner.Status.PENDING:
        events.publish(partner=partner, type="partner.approved", data=_partner_payload(partner))
        owners = _owner_emails(partner)
        transaction.on_commit(lambda: _email(to=owners, template="partner_approved", context={"partner": partner}))
    return partner


@transaction.atomic
def set_require_2fa(*, partner: Partner, membership: Membership, required: bool, actor: Actor) -> Partner:
    roles.require(membership, "manage_security")
    Partner.objects.filter(pk=partner.pk).update(require_2fa=required, updated_at=timezone.now())
    partner.require_2fa = required
    audit.record(actor=actor, action="partner.2fa_required" if required else "partner.2fa_optional",
                 partner=partner, target=partner)
    return partner


# --- The team -----------------------------------------------------------------------------


def _lock_team(partner: Partner) -> list[Membership]:
    return list(Membership.objects.select_for_update().filter(partner=partner).order_by("pk"))


def _require_role_change_allowed(membership: Membership, *roles_involved: str) -> None:
    roles.require(membership, "manage_team")
    if Role.OWNER in roles_involved:
        roles.require(membership, "manage_owners")


@transaction.atomic
def invite_member(*, partner: Partner, membership: Membership, email: str, role: str, actor: Actor) -> tuple[Invitation, str]:
    """Email a single-use invitation link. Returns the invitation and its token (sent, never stored)."""
    _require_role_change_allowed(membership, role)
    email = email.strip().lower()
    if Membership.objects.filter(partner=partner, user__email__iexact=email).exists():
        raise Conflict(_("%(email)s is already in the team.") % {"email": email}, fields={"email": [_("Already a member.")]})
    now = timezone.now()
    Invitation.objects.filter(partner=partner, email__iexact=email, accepted_at=None, revoked_at=None).update(revoked_at=now)
    token = secrets.token_urlsafe(32)
    invitation = Invitation.objects.create(
        partner=partner, email=email, role=role, token_hash=_hash(token),
        invited_by=membership.user, expires_at=now + INVITATION_LIFETIME,
    )
    audit.record(actor=actor, action="invitation.created", partner=partner, target=invitation, data={"role": role})
    context = {"partner": partner, "invitation": invitation, "inviter": membership.user,
               "accept_url": f"{settings.BIGSTOCK_SITE_URL}/invitations/{token}/"}
    transaction.on_commit(lambda: _email(to=[email], template="invitation", context=context))
    return invitation, token


def invitation_for_token(token: str) -> Invitation:
    """The pending invitation behind ``token``, or ``InvitationInvalid`` saying why not."""
    invitation = Invitation.objects.select_related("partner").filter(token_hash=_hash(token)).first()
    if invitation is None:
        raise InvitationInvalid(_("This invitation link is not valid. Ask the person who invited you for a new one."),
                                reason="unknown")
    if invitation.accepted_at is not None:
        raise InvitationInvalid(_("This invitation has already been used. Log in, or ask for a new invitation."),
                                reason="used")
    if invitation.revoked_at is not None:
        raise InvitationInvalid(_("This invitation was cancelled. Ask the team's owner or an admin for a new one."),
                                reason="revoked")
    if invitation.expires_at <= timezone.now():
        raise InvitationInvalid(_("This invitation has expired. Ask the team's owner or an admin to send a new one."),
                                reason="expired")
    return invitation


@transaction.atomic
def accept_invitation(*, token: str, user: User, actor: Actor) -> Membership:
    """The invited person joins the team with the invited role (the token proves the email)."""
    invitation = invitation_for_token(token)
    invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
    if invitation.accepted_at is not None:  # accepted concurrently
        raise InvitationInvalid(_("This invitation has already been used."), reason="used")
    membership, created = Membership.objects.get_or_create(
        user=user, partner=invitation.partner, defaults={"role": invitation.role}
    )
    invitation.accepted_at = timezone.now()
    invitation.accepted_by = user
    invitation.save(update_fields=["accepted_at", "accepted_by"])
    if user.email.lower() == invitation.email.lower():
        EmailAddress.objects.update_or_create(user=user, email=user.email, defaults={"verified": True, "primary": True})
    if created:
        audit.record(actor=actor, action="member.added", partner=invitation.partner, target=membership,
                     data={"role": membership.role, "email": user.email})
        events.publish(partner=invitation.partner, type="member.added",
                       data={"email": user.email, "role": membership.role})
    return membership


@transaction.atomic
def create_account_from_invitation(*, token: str, password: str, first_name: str = "", last_name: str = "",
                                   actor: Actor) -> Membership:
    """Accepting an invitation creates the account when the invited email has none."""
    invitation = invitation_for_token(token)
    if User.objects.filter(email__iexact=invitation.email).exists():
        raise Conflict(_("An account already exists for %(email)s: log in to accept.") % {"email": invitation.email})
    user = User.objects.create_user(email=invitation.email, password=password,
                                    first_name=first_name, last_name=last_name)
    return accept_invitation(token=token, user=user, actor=Actor(user=user, ip_address=actor.ip_address))


@transaction.atomic
def revoke_invitation(*, invitation: Invitation, membership: Membership, actor: Actor) -> None:
    _require_role_change_allowed(membership, invitation.role)
    if invitation.accepted_at is None and invitation.revoked_at is None:
        invitation.revoked_at = timezone.now()
        invitation.save(update_fields=["revoked_at"])
        audit.record(actor=actor, action="invitation.revoked", partner=invitation.partner, target=invitation)


@transaction.atomic
def change_role(*, target: Membership, role: str, membership: Membership, actor: Actor) -> Membership:
    """Change a teammate's role. Only owners touch owners; the team always keeps an owner."""
    _require_role_change_allowed(membership, role, target.role)
    team = _lock_team(target.partner)
    target = next(m for m in team if m.pk == target.pk)
    if target.role == Role.OWNER and role != Role.OWNER and sum(m.role == Role.OWNER for m in team) == 1:
        raise LastOwner(_("The team must keep at least one owner: make someone else owner first."))
    previous, target.role = target.role, role
    target.save(update_fields=["role"])
    audit.record(actor=actor, action="member.role_changed", partner=target.partner, target=target,
                 data={"from": previous, "to": role, "email": target.user.email})
    return target


@transaction.atomic
def remove_member(*, target: Membership, membership: Membership, actor: Actor) -> None:
    """Remove a teammate, or leave the team yourself. The last owner cannot go."""
    if target.pk != membership.pk:
        _require_role_change_allowed(membership, target.role)
    team = _lock_team(target.partner)
    if target.role == Role.OWNER and sum(m.role == Role.OWNER for m in team) == 1:
        raise LastOwner(_("The team must keep at least one owner: make someone else owner first."))
    audit.record(actor=actor, action="member.removed", partner=target.partner, target=target,
                 data={"email": target.user.email, "role": target.role})
    events.publish(partner=target.partner, type="member.removed", data={"email": target.user.email})
    target.delete()


# --- API keys -----------------------------------------------------------------------------


@transaction.atomic
def create_api_key(*, partner: Partner, membership: Membership, name: str, scopes: list[str],
                   expires_at: datetime | None, actor: Actor) -> tuple[ApiKey, str]:
    """Create a key; returns it with the full secret, which is shown once and never stored."""
    roles.require(membership, "manage_api_keys")
    valid = {choice for choice, _label in ApiKey.Scope.choices}
    if not scopes or not set(scopes) <= valid:
        raise DomainError(_("Choose at least one scope: read, write."), fields={"scopes": [_("Invalid scopes.")]})
    if expires_at is not None and expires_at <= timezone.now():
        raise DomainError(_("The expiry date must be in the future."), fields={"expires_at": [_("In the past.")]})
    prefix = secrets.token_hex(API_KEY_PREFIX_LENGTH // 2)
    secret = secrets.token_urlsafe(32)
    key = ApiKey.objects.create(
        partner=partner, name=name.strip(), prefix=prefix, secret_hash=_hash(secret),
        scopes=sorted(set(scopes)), created_by=membership.user, expires_at=expires_at,
    )
    audit.record(actor=actor, action="api_key.created", partner=partner, target=key, data={"scopes": key.scopes})
    return key, f"bsk_{prefix}_{secret}"


@transaction.atomic
def revoke_api_key(*, key: ApiKey, membership: Membership | None, actor: Actor) -> ApiKey:
    """Owners and admins revoke their keys; staff (``membership=None``) revoke a leaked or abused one."""
    if membership is not None:
        roles.require(membership, "manage_api_keys")
    if key.revoked_at is None:
        key.revoked_at = timezone.now()
        key.save(update_fields=["revoked_at"])
        audit.record(actor=actor, action="api_key.revoked", partner=key.partner, target=key,
                     data={"by": "staff"} if membership is None else {})
    return key


class UnknownApiKey(ApiKeyError):
    code = "api_key_unknown"


class RevokedApiKey(ApiKeyError):
    code = "api_key_revoked"


class ExpiredApiKey(ApiKeyError):
    code = "api_key_expired"


class PartnerClosed(ApiKeyError):
    code = "partner_closed"
    status_code = 403


# Every API call looks its key up: kept a few seconds per process. Saving a key (revoking it) or
# its partner (closing it) clears the entries here at once (partners.signals); other processes
# see the change within BIGSTOCK_HOT_CACHE_SECONDS.
api_keys_by_prefix = hotcache.HotCache("api_keys_by_prefix")


def authenticate_api_key(raw: str) -> ApiKey:
    """The active key behind ``bsk_<prefix>_<secret>``, or a specific error."""
    parts = raw.split("_", 2)
    if len(parts) != 3 or parts[0] != "bsk":
        raise UnknownApiKey(_("This API key is not valid."))
    prefix = parts[1]
    key = api_keys_by_prefix.get_or_load(
        prefix, lambda: ApiKey.objects.select_related("partner").filter(prefix=prefix).first())
    if key is None or not hmac.compare_digest(key.secret_hash, _hash(parts[2])):
        raise UnknownApiKey(_("This API key is not valid."))
    now = timezone.now()
    if key.revoked_at is not None:
        raise RevokedApiKey(_("This API key was revoked. Create a new one in the portal."))
    if key.expires_at is not None and key.expires_at <= now:
        raise ExpiredApiKey(_("This API key expired. Create a new one in the portal."))
    if key.partner.status == Partner.Status.CLOSED:
        raise PartnerClosed(_("This partner account is closed."))
    if key.last_used_at is None or now - key.last_used_at > timedelta(minutes=1):
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)  # at most once a minute per key
        api_keys_by_prefix.update(prefix, lambda cached: setattr(cached, "last_used_at", now))
    return key


# --- Webhook endpoints (the machinery is bigstock.webhooks; role rules and audit are here) ---


@transaction.atomic
def create_webhook_endpoint(*, partner: Partner, membership: Membership | None, url: str, description: str = "",
                            event_types: list[str] | None = None, actor: Actor):
    """Returns (endpoint, secret): the ``whsec_`` secret is shown once to the partner."""
    if membership is not None:
        roles.require(membership, "manage_webhooks")
    endpoint, secret = webhooks.create_endpoint(
        partner=partner, url=url, description=description, event_types=event_types or []
    )
    audit.record(actor=actor, action="webhook_endpoint.created", partner=partner, target=endpoint,
                 data={"url": endpoint.url, "event_types": endpoint.event_types})
    return endpoint, secret


@transaction.atomic
def update_webhook_endpoint(*, endpoint, membership: Membership | None, actor: Actor, **changes):
    """Change url, description, event_types or enabled (re-enabling clears the failure state)."""
    if membership is not None:
        roles.require(membership, "manage_webhooks")
    endpoint = webhooks.update_endpoint(endpoint=endpoint, **changes)
    audit.record(actor=actor, action="webhook_endpoint.updated", partner=endpoint.partner, target=endpoint,
                 data={key: value for key, value in changes.items()})
    return endpoint


@transaction.atomic
def delete_webhook_endpoint(*, endpoint, membership: Membership | None, actor: Actor) -> None:
    if membership is not None:
        roles.require(membership, "manage_webhooks")
    audit.record(actor=actor, action="webhook_endpoint.deleted", partner=endpoint.partner, target=endpoint,
                 data={"url": endpoint.url})
    webhooks.delete_endpoint(endpoint=endpoint)


@transaction.atomic
def redeliver_webhook(*, delivery, membership: Membership | None, actor: Actor):
    if membership is not None:
        roles.require(membership, "manage_webhooks")
    return webhooks.redeliver(delivery=delivery)


@transaction.atomic
def send_test_webhook(*, endpoint, membership: Membership | None, actor: Actor):
    if membership is not None:
        roles.require(membership, "manage_webhooks")
    return webhooks.send_test_event(endpoint=endpoint)

