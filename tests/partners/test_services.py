import datetime as dt

import pytest
from django.core import mail
from django.core.exceptions import ValidationError

from bigstock.errors import Forbidden
from bigstock.models import PartnerEvent
from partners import services
from partners.audit import SYSTEM, Actor
from partners.models import AuditLogEntry, Invitation, Membership, Partner, Role
from tests.factories import MembershipFactory, PartnerFactory, UserFactory

pytestmark = pytest.mark.django_db

PROFILE = {
    "legal_name": "Maison Durand SARL",
    "siret": "732 829 320 00074",
    "legal_form": "SARL",
    "address_line1": "3 place Bellecour",
    "postcode": "69002",
    "city": "Lyon",
    "country": "FR",
    "billing_email": "compta@durand.example",
    "phone": "04 72 00 00 00",
}


def test_registering_a_business_makes_it_pending_with_the_user_as_owner():
    user = UserFactory()
    partner = services.create_partner(owner=user, actor=Actor(user=user), **PROFILE)
    assert partner.status == Partner.Status.PENDING
    assert not partner.can_order
    assert partner.siret == "73282932000074"
    assert partner.siren == "732829320"
    assert partner.phone == "+33472000000"
    assert partner.public_id.startswith("par_")
    assert Membership.objects.get(partner=partner).role == Role.OWNER
    assert AuditLogEntry.objects.filter(partner=partner, action="partner.created").exists()


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("siret", "73282932000075", "wrong check digit"),
        ("siret", "7328293200", "must have 14 digits"),
        ("vat_number", "FR45732829320", "wrong check digit"),
        ("vat_number", "DE136695976", "billing country is FR"),
        ("vat_number", "XX123", "not an EU country code"),
        ("phone", "12", "not valid for its country"),
    ],
)
def test_malformed_identifiers_say_which_check_failed(field, value, message):
    user = UserFactory()
    with pytest.raises(ValidationError) as excinfo:
        services.create_partner(owner=user, actor=SYSTEM, **{**PROFILE, field: value})
    assert message in " ".join(excinfo.value.message_dict[field])
    assert not Partner.objects.exists()


def test_a_french_business_needs_a_siret_but_a_foreign_one_does_not():
    with pytest.raises(ValidationError) as excinfo:
        services.create_partner(owner=UserFactory(), actor=SYSTEM, **{**PROFILE, "siret": ""})
    assert "siret" in excinfo.value.message_dict
    belgian = {**PROFILE, "siret": "", "country": "BE", "vat_number": "BE0403.170.701", "phone": "+3225550000",
               "legal_form": "FOREIGN"}
    partner = services.create_partner(owner=UserFactory(), actor=SYSTEM, **belgian)
    assert partner.vat_number == "BE0403170701"


def test_approval_opens_orders_emails_the_owners_and_publishes_an_event(django_capture_on_commit_callbacks):
    owner = MembershipFactory(partner=PartnerFactory(status=Partner.Status.PENDING), role=Role.OWNER)
    MembershipFactory(partner=owner.partner, role=Role.MEMBER)
    staff = UserFactory(is_staff=True)
    with django_capture_on_commit_callbacks(execute=True):
        partner = services.set_partner_status(partner=owner.partner, status=Partner.Status.ACTIVE,
                                              actor=Actor(user=staff, ip_address="10.1.2.3"))
    assert partner.can_order and partner.approved_at is not None
    assert [m.to for m in mail.outbox] == [[owner.user.email]]
    [email] = mail.outbox  # French, then English, whatever language the staff member works in
    french, english = email.body.split("\n----------\n")
    assert f"BigStock a validé le compte de {partner}" in french
    assert f"BigStock has approved the account of {partner}" in english
    assert email.subject.endswith(f"Compte {partner} validé : vous pouvez désormais commander")
    assert PartnerEvent.objects.filter(partner=partner, type="partner.approved").count() == 1
    entry = AuditLogEntry.objects.get(partner=partner, action="partner.active")
    assert entry.actor_user == staff and entry.ip_address == "10.1.2.3"


def test_profile_changes_are_audited_with_before_and_after():
    owner = MembershipFactory()
    services.update_partner_profile(partner=owner.partner, membership=owner, actor=Actor(user=owner.user),
                                    city="Marseille", postcode="13001")
    entry = AuditLogEntry.objects.get(action="partner.updated")
    assert entry.data["changes"]["city"] == ["Paris", "Marseille"]


def test_a_member_cannot_change_the_profile():
    member = MembershipFactory(role=Role.MEMBER)
    with pytest.raises(Forbidden, match="Only owners and admins"):
        services.update_partner_profile(partner=member.partner, membership=member, actor=SYSTEM, city="Nice")
    member.partner.refresh_from_db()
    assert member.partner.city == "Paris"


def test_invitation_is_emailed_single_use_and_expires(django_capture_on_commit_callbacks):
    owner = MembershipFactory()
    with django_capture_on_commit_callbacks(execute=True):
        invitation, token = services.invite_member(partner=owner.partner, membership=owner,
                                                   email="New.Person@Example.com", role=Role.ADMIN, actor=SYSTEM)
    assert invitation.email == "new.person@example.com"
    assert token not in invitation.token_hash
    assert f"/invitations/{token}/" in mail.outbox[0].body

    membership = services.create_account_from_invitation(token=token, password="a-long-passphrase-1",
                                                         actor=SYSTEM)
    assert membership.role == Role.ADMIN and membership.user.email == "new.person@example.com"
    assert membership.user.emailaddress_set.get().verified

    with pytest.raises(services.InvitationInvalid) as used:
        services.accept_invitation(token=token, user=UserFactory(), actor=SYSTEM)
    assert used.value.details["reason"] == "used"


def test_expired_invitation_is_refused(time_machine):
    owner = MembershipFactory()
    time_machine.move_to(dt.datetime(2026, 5, 1, 8, tzinfo=dt.UTC), tick=False)
    _invitation, token = services.invite_member(partner=owner.partner, membership=owner, email="late@example.com",
                                                role=Role.MEMBER, actor=SYSTEM)
    time_machine.move_to(dt.datetime(2026, 5, 8, 8, 1, tzinfo=dt.UTC), tick=False)
    with pytest.raises(services.InvitationInvalid) as excinfo:
        services.accept_invitation(token=token, user=UserFactory(email="late@example.com"), actor=SYSTEM)
    assert excinfo.value.details["reason"] == "expired"
    assert "expired" in excinfo.value.message


def test_a_new_invitation_replaces_the_pending_one():
    owner = MembershipFactory()
    _first, first_token = services.invite_member(partner=owner.partner, membership=owner, email="x@example.com",
                                                 role=Role.MEMBER, actor=SYSTEM)
    services.invite_member(partner=owner.partner, membership=owner, email="x@example.com", role=Role.MEMBER,
                           actor=SYSTEM)
    with pytest.raises(services.InvitationInvalid) as excinfo:
        services.invitation_for_token(first_token)
    assert excinfo.value.details["reason"] == "revoked"


def test_members_cannot_invite_and_admins_cannot_make_owners():
    member = MembershipFactory(role=Role.MEMBER)
    admin = MembershipFactory(partner=member.partner, role=Role.ADMIN)
    with pytest.raises(Forbidden, match="Only owners and admins can manage the team"):
        services.invite_member(partner=member.partner, membership=member, email="a@example.com", role=Role.MEMBER,
                               actor=SYSTEM)
    with pytest.raises(Forbidden, match="Only owners"):
        services.invite_member(partner=admin.partner, membership=admin, email="a@example.com", role=Role.OWNER,
                               actor=SYSTEM)
    assert not Invitation.objects.exists()


def test_the_team_always_keeps_an_owner():
    owner = MembershipFactory(role=Role.OWNER)
    with pytest.raises(services.LastOwner):
        services.change_role(target=owner, role=Role.ADMIN, membership=owner, actor=SYSTEM)
    with pytest.raises(services.LastOwner):
        services.remove_member(target=owner, membership=owner, actor=SYSTEM)
    second = MembershipFactory(partner=owner.partner, role=Role.OWNER)
    services.change_role(target=owner, role=Role.ADMIN, membership=second, actor=SYSTEM)
    owner.refresh_from_db()
    assert owner.role == Role.ADMIN
    entry = AuditLogEntry.objects.get(action="member.role_changed")
    assert entry.data == {"from": "owner", "to": "admin", "email": owner.user.email}


def test_a_member_may_leave_but_not_remove_others():
    member = MembershipFactory(role=Role.MEMBER)
    other = MembershipFactory(partner=member.partner, role=Role.MEMBER)
    with pytest.raises(Forbidden):
        services.remove_member(target=other, membership=member, actor=SYSTEM)
    services.remove_member(target=member, membership=member, actor=SYSTEM)
    assert list(Membership.objects.filter(partner=member.partner)) == [other] or Membership.objects.filter(
        pk=member.pk
    ).count() == 0


def test_a_user_can_belong_to_several_partners():
    user = UserFactory()
    MembershipFactory(user=user)
    MembershipFactory(user=user, role=Role.MEMBER)
    assert user.memberships.count() == 2
