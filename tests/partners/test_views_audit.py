import pytest
from allauth.mfa import signals as mfa_signals
from django.test import RequestFactory

from partners import audit
from partners.audit import Actor
from partners.models import AuditLogEntry, Role
from tests.factories import PASSWORD, MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def client(client):
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


def _login(client, role=Role.OWNER, partner=None):
    membership = MembershipFactory(role=role, **({"partner": partner} if partner else {}))
    client.force_login(membership.user)
    return membership


def test_owner_sees_the_partners_entries_but_never_another_partners(client):
    owner = _login(client)
    audit.record(actor=Actor(user=owner.user, ip_address="203.0.113.7"), action="api_key.created",
                 partner=owner.partner, data={})
    other = MembershipFactory()
    audit.record(actor=Actor(user=other.user, ip_address="198.51.100.9"), action="api_key.revoked",
                 partner=other.partner)
    response = client.get("/audit-log/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "API key created" in html
    assert "203.0.113.7" in html
    assert owner.user.email in html
    assert "API key revoked" not in html and "api_key.revoked" not in html
    assert "198.51.100.9" not in html
    assert {entry.partner_id for entry in response.context["entries"]} == {owner.partner.pk}


def test_entries_read_in_the_partners_language_with_bigstock_for_its_staff_and_machinery(client):
    owner = _login(client)
    staff = UserFactory(is_staff=True)
    audit.record(actor=Actor(user=staff), action="partner.suspended", partner=owner.partner, target=owner.partner)
    audit.record(actor=audit.SYSTEM, action="payment.recorded", partner=owner.partner, target=owner.partner)
    rows = client.get("/audit-log/", HTTP_ACCEPT_LANGUAGE="fr").content.decode().split("<tbody>")[1]
    assert "Compte suspendu" in rows and "Paiement enregistré" in rows and "(partenaire)" in rows
    assert "BigStock" in rows and staff.email not in rows and "system" not in rows
    assert "partner.suspended" not in rows
    options = client.get("/audit-log/").content.decode().split("<tbody>")[0]
    assert '<option value="partner.suspended">Account suspended</option>' in options


def test_an_unknown_action_is_refused_so_that_every_entry_has_its_words():
    with pytest.raises(ValueError, match="unknown audit action"):
        audit.record(actor=audit.SYSTEM, action="api_key.renamed", partner=None)


def test_admin_and_member_get_403(client):
    _login(client, role=Role.ADMIN)
    assert client.get("/audit-log/").status_code == 403
    _login(client, role=Role.MEMBER)
    assert client.get("/audit-log/").status_code == 403


def test_entries_are_paginated_by_50_and_filtered_by_action(client, django_assert_max_num_queries):
    owner = _login(client)
    for _number in range(60):
        audit.record(actor=audit.SYSTEM, action="partner.updated", partner=owner.partner)
    audit.record(actor=audit.SYSTEM, action="member.removed", partner=owner.partner)
    with django_assert_max_num_queries(12):
        response = client.get("/audit-log/")
    assert len(response.context["entries"]) == 50
    assert "Page 1 of 2" in response.content.decode()
    response = client.get("/audit-log/?action=partner.updated&page=2")
    assert len(response.context["entries"]) == 10
    assert "action=partner.updated&amp;page=1" in response.content.decode()
    response = client.get("/audit-log/?action=member.removed")
    assert [entry.action for entry in response.context["entries"]] == ["member.removed"]


def test_times_are_shown_in_paris_time(client):
    owner = _login(client)
    entry = audit.record(actor=audit.SYSTEM, action="partner.updated", partner=owner.partner)
    AuditLogEntry.objects.filter(pk=entry.pk).update(created_at="2026-07-14T10:00:00Z")
    assert "14 Jul 2026 12:00:00" in client.get("/audit-log/").content.decode()


def test_logging_in_is_recorded_for_each_partner_of_the_user(client):
    user = UserFactory()
    first, second = MembershipFactory(user=user), MembershipFactory(user=user, role=Role.MEMBER)
    response = client.post("/accounts/login/", {"login": user.email, "password": PASSWORD}, REMOTE_ADDR="192.0.2.4")
    assert response.status_code == 302
    entries = AuditLogEntry.objects.filter(action="user.logged_in", actor_user=user)
    assert {entry.partner_id for entry in entries} == {first.partner_id, second.partner_id}
    assert {entry.ip_address for entry in entries} == {"192.0.2.4"}


def test_two_factor_changes_are_recorded(rf: RequestFactory):
    membership = MembershipFactory()
    request = rf.post("/accounts/2fa/totp/activate", REMOTE_ADDR="192.0.2.5")

    class Authenticator:
        type = "totp"

    for signal, action in [
        (mfa_signals.authenticator_added, "authenticator.added"),
        (mfa_signals.authenticator_reset, "authenticator.reset"),
        (mfa_signals.authenticator_removed, "authenticator.removed"),
    ]:
        signal.send(sender=Authenticator, request=request, user=membership.user, authenticator=Authenticator())
        entry = AuditLogEntry.objects.get(action=action)
        assert (entry.partner, entry.actor_user, entry.ip_address) == (membership.partner, membership.user, "192.0.2.5")
        assert entry.data == {"type": "totp"}
