import re
from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from partners import services
from partners.audit import SYSTEM
from partners.middleware import SESSION_KEY
from partners.models import Invitation, Membership, Role, User
from tests.factories import MembershipFactory, PartnerFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def client(client):
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


def _login(client, role=Role.OWNER, partner=None):
    membership = MembershipFactory(role=role, **({"partner": partner} if partner else {}))
    client.force_login(membership.user)
    return membership


def _invite(partner, email="lea@example.com", role=Role.MEMBER):
    owner = Membership.objects.filter(partner=partner, role=Role.OWNER).first() or MembershipFactory(partner=partner)
    return services.invite_member(partner=partner, membership=owner, email=email, role=role, actor=SYSTEM)


def test_team_page_lists_members_with_their_roles(client):
    owner = _login(client)
    MembershipFactory(partner=owner.partner, role=Role.MEMBER, user=UserFactory(email="paul@example.com"))
    html = client.get("/team/").content.decode()
    assert owner.user.email in html
    assert "paul@example.com" in html
    assert "Send the invitation" in html


def test_invitation_sends_an_email_with_the_link_and_is_listed_as_pending(client, django_capture_on_commit_callbacks):
    owner = _login(client)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/team/", {"email": "Lea@Example.com", "role": "admin"}, follow=True)
    assert "Invitation sent to lea@example.com." in response.content.decode()
    invitation = Invitation.objects.get(partner=owner.partner)
    assert (invitation.email, invitation.role) == ("lea@example.com", Role.ADMIN)
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["lea@example.com"]
    token = re.search(r"/invitations/([\w-]+)/", mail.outbox[0].body).group(1)
    assert services.invitation_for_token(token) == invitation
    html = response.content.decode()
    assert re.search(r"lea@example.com.*Pending", html, re.S)


def test_inviting_a_current_member_is_refused_on_the_email_field(client):
    owner = _login(client)
    MembershipFactory(partner=owner.partner, role=Role.MEMBER, user=UserFactory(email="paul@example.com"))
    response = client.post("/team/", {"email": "paul@example.com", "role": "member"})
    assert response.status_code == 200
    assert response.context["form"].errors["email"] == ["Already a member."]


def test_a_member_sees_the_team_but_cannot_invite(client):
    member = _login(client, role=Role.MEMBER)
    html = client.get("/team/").content.decode()
    assert "Send the invitation" not in html
    response = client.post("/team/", {"email": "lea@example.com", "role": "member"})
    assert "Only owners and admins can manage the team." in response.content.decode()
    assert not Invitation.objects.filter(partner=member.partner).exists()


def test_an_admin_cannot_invite_an_owner(client):
    admin = _login(client, role=Role.ADMIN)
    response = client.post("/team/", {"email": "lea@example.com", "role": "owner"})
    assert "owner" not in dict(response.context["form"].fields["role"].choices)
    assert response.context["form"].errors["role"]
    assert not Invitation.objects.filter(partner=admin.partner).exists()


def test_owner_changes_a_members_role(client):
    owner = _login(client)
    paul = MembershipFactory(partner=owner.partner, role=Role.MEMBER)
    response = client.post("/team/role/", {"email": paul.user.email, "role": "admin"}, follow=True)
    paul.refresh_from_db()
    assert paul.role == Role.ADMIN
    assert f"{paul.user.email} is now Admin." in response.content.decode()


def test_the_last_owner_cannot_be_demoted_nor_removed(client):
    owner = _login(client)
    admin = MembershipFactory(partner=owner.partner, role=Role.ADMIN)
    response = client.post("/team/role/", {"email": owner.user.email, "role": "member"}, follow=True)
    assert "The team must keep at least one owner" in response.content.decode()
    response = client.post("/team/leave/", follow=True)
    assert "The team must keep at least one owner" in response.content.decode()
    client.force_login(admin.user)
    response = client.post("/team/remove/", {"email": owner.user.email}, follow=True)
    assert "Only owners can add, change or remove an owner." in response.content.decode()
    owner.refresh_from_db()
    assert owner.role == Role.OWNER


def test_owner_removes_a_member(client):
    owner = _login(client)
    paul = MembershipFactory(partner=owner.partner, role=Role.MEMBER)
    client.post("/team/remove/", {"email": paul.user.email})
    assert not Membership.objects.filter(pk=paul.pk).exists()


def test_members_of_another_partner_cannot_be_touched(client):
    _login(client)
    stranger = MembershipFactory(role=Role.MEMBER)
    assert client.post("/team/remove/", {"email": stranger.user.email}).status_code == 404
    assert client.post("/team/role/", {"email": stranger.user.email, "role": "admin"}).status_code == 404
    assert Membership.objects.filter(pk=stranger.pk).exists()


def test_a_member_leaves_the_team(client):
    member = _login(client, role=Role.MEMBER)
    MembershipFactory(partner=member.partner)
    response = client.post("/team/leave/")
    assert response.status_code == 302
    assert not Membership.objects.filter(pk=member.pk).exists()


def test_owner_revokes_a_pending_invitation(client):
    owner = _login(client)
    invitation, token = _invite(owner.partner)
    client.post(f"/team/invitations/{invitation.public_id}/revoke/")
    invitation.refresh_from_db()
    assert invitation.revoked_at is not None
    response = client.get(f"/invitations/{token}/")
    assert response.status_code == 410
    assert "This invitation was cancelled." in response.content.decode()


def test_another_partners_invitation_cannot_be_revoked(client):
    _login(client)
    invitation, _token = _invite(PartnerFactory())
    assert client.post(f"/team/invitations/{invitation.public_id}/revoke/").status_code == 404
    invitation.refresh_from_db()
    assert invitation.revoked_at is None


# --- The public invitation page -----------------------------------------------------------


def test_invitation_creates_the_account_when_needed_and_logs_in(client):
    partner = PartnerFactory(trade_name="Maison Lumière")
    _invitation, token = _invite(partner, email="lea@example.com", role=Role.ADMIN)
    html = client.get(f"/invitations/{token}/").content.decode()
    assert "Join Maison Lumière on BigStock" in html
    assert "Create my account and join" in html

    response = client.post(
        f"/invitations/{token}/",
        {"first_name": "Léa", "last_name": "Martin", "password1": "jardin-secret-42", "password2": "jardin-secret-42"},
    )
    assert response.status_code == 302
    assert response["Location"] == "/"
    user = User.objects.get(email="lea@example.com")
    assert (user.first_name, user.last_name) == ("Léa", "Martin")
    assert Membership.objects.get(user=user).role == Role.ADMIN
    assert client.session[SESSION_KEY] == partner.public_id
    assert "Maison Lumière" in client.get("/").content.decode()


def test_invitation_signup_applies_the_password_rules(client):
    _invitation, token = _invite(PartnerFactory())
    response = client.post(
        f"/invitations/{token}/", {"first_name": "Léa", "last_name": "Martin", "password1": "123", "password2": "123"}
    )
    assert response.status_code == 200
    assert response.context["form"].errors["password1"]
    assert not User.objects.filter(email="lea@example.com").exists()


def test_invitation_for_an_existing_account_links_to_login_and_back(client):
    UserFactory(email="lea@example.com")
    _invitation, token = _invite(PartnerFactory())
    html = client.get(f"/invitations/{token}/").content.decode()
    assert f"/accounts/login/?next=%2Finvitations%2F{token}%2F" in html
    assert "Create my account" not in html


def test_logged_in_user_accepts_and_the_partner_becomes_current(client):
    _login(client)
    other = PartnerFactory(trade_name="Maison Lumière")
    _invitation, token = _invite(other)
    response = client.post(f"/invitations/{token}/", follow=True)
    assert response.redirect_chain[-1][0] == "/"
    assert client.session[SESSION_KEY] == other.public_id
    assert response.context["partner"] == other


@pytest.mark.parametrize(
    ("state", "message"),
    [
        ("expired", "This invitation has expired."),
        ("used", "This invitation has already been used."),
        ("unknown", "This invitation link is not valid."),
    ],
)
def test_unusable_invitation_says_why_with_status_410(client, state, message):
    invitation, token = _invite(PartnerFactory())
    if state == "expired":
        Invitation.objects.filter(pk=invitation.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    elif state == "used":
        services.accept_invitation(token=token, user=UserFactory(), actor=SYSTEM)
    elif state == "unknown":
        token = "not-a-real-token"
    for response in [client.get(f"/invitations/{token}/"), client.post(f"/invitations/{token}/", {})]:
        assert response.status_code == 410
        html = response.content.decode()
        assert message in html
        assert "can send you a new one" in html


def test_team_page_query_count_does_not_grow_with_the_team(client, django_assert_max_num_queries):
    owner = _login(client)
    for number in range(20):
        MembershipFactory(partner=owner.partner, role=Role.MEMBER)
        _invite(owner.partner, email=f"guest{number}@example.com")
    with django_assert_max_num_queries(12):
        assert client.get("/team/").status_code == 200
