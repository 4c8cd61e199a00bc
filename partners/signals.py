"""Audit log entries for logins and two-factor changes, one per partner the user belongs to; and the
API key cache forgetting keys and partners saved in this process."""

from .audit import Actor, client_ip, record


def _record_for_each_partner(*, user, request, action: str, data: dict | None = None) -> None:
    actor = Actor(user=user, ip_address=client_ip(request) if request is not None else None)
    for membership in user.memberships.select_related("partner"):
        record(actor=actor, action=action, partner=membership.partner, target=user, data=data)


def user_logged_in(sender, request, user, **kwargs):
    _record_for_each_partner(user=user, request=request, action="user.logged_in")


def _authenticator_receiver(action: str):
    def receiver(sender, request, user, authenticator, **kwargs):
        _record_for_each_partner(user=user, request=request, action=action, data={"type": authenticator.type})

    return receiver


authenticator_added = _authenticator_receiver("authenticator.added")
authenticator_removed = _authenticator_receiver("authenticator.removed")
authenticator_reset = _authenticator_receiver("authenticator.reset")


def connect() -> None:
    from allauth.mfa import signals as mfa_signals
    from django.contrib.auth import signals as auth_signals

    from .models import ApiKey, Partner
    from .services import api_keys_by_prefix

    api_keys_by_prefix.forget_on_save(ApiKey, key=lambda key: key.prefix)
    api_keys_by_prefix.forget_on_save(Partner)  # rare (details or status changed): every key is read again

    auth_signals.user_logged_in.connect(user_logged_in, dispatch_uid="partners.audit.user_logged_in")
    mfa_signals.authenticator_added.connect(authenticator_added, dispatch_uid="partners.audit.authenticator_added")
    mfa_signals.authenticator_removed.connect(authenticator_removed, dispatch_uid="partners.audit.authenticator_removed")
    mfa_signals.authenticator_reset.connect(authenticator_reset, dispatch_uid="partners.audit.authenticator_reset")
