import pytest
from django.contrib import admin
from django.core import mail
from django.urls import reverse

from bigstock.models import WebhookDelivery
from partners.models import ApiKey, AuditLogEntry, Partner, Role
from tests.factories import (
    InvitationFactory,
    MembershipFactory,
    PartnerFactory,
    UserFactory,
    WebhookAttemptFactory,
    WebhookEndpointFactory,
    make_api_key,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(client):
    user = UserFactory(is_staff=True, is_superuser=True)
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    client.force_login(user)
    return user


def run_action(client, model, action, objects):
    url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
    return client.post(url, {"action": action, "_selected_action": [obj.pk for obj in objects]}, follow=True)


def messages_of(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


def test_approving_partners_emails_their_owners_and_writes_the_audit_log(
    client, staff, django_capture_on_commit_callbacks
):
    pending = PartnerFactory(status=Partner.Status.PENDING)
    owner = MembershipFactory(partner=pending, role=Role.OWNER)
    MembershipFactory(partner=pending, role=Role.MEMBER)
    already = PartnerFactory(status=Partner.Status.ACTIVE)
    with django_capture_on_commit_callbacks(execute=True):
        response = run_action(client, Partner, "approve", [pending, already])
    pending.refresh_from_db()
    assert pending.status == Partner.Status.ACTIVE
    assert pending.approved_at is not None
    assert [m.to for m in mail.outbox] == [[owner.user.email]]
    entry = AuditLogEntry.objects.get(partner=pending, action="partner.active")
    assert (entry.actor_user, entry.ip_address) == (staff, "127.0.0.1")
    assert entry.data["from"] == "pending"
    assert messages_of(response) == [
        "1 partner approved: its owners were told by email.",
        "1 partner already had this status.",
    ]


@pytest.mark.parametrize(("action", "status"), [("suspend", "suspended"), ("close", "closed")])
def test_suspending_or_closing_partners_goes_through_the_service(client, staff, action, status):
    partners = PartnerFactory.create_batch(2)
    response = run_action(client, Partner, action, partners)
    assert set(Partner.objects.values_list("status", flat=True)) == {status}
    assert AuditLogEntry.objects.filter(action=f"partner.{status}", actor_user=staff).count() == 2
    assert messages_of(response)[0].startswith(f"2 partners {status}")


@pytest.mark.parametrize("typed", ["73282932000074", "732 829 320 00074", "732829320", "732.829.320", "FR44 732 829 320"])
def test_staff_find_a_partner_by_siret_siren_or_vat_number_as_people_type_them(client, staff, typed):
    wanted = PartnerFactory(siret="73282932000074", vat_number="FR44732829320", legal_name="Durand SARL")
    PartnerFactory(legal_name="Martin SAS")
    response = client.get(reverse("admin:partners_partner_changelist"), {"q": typed})
    assert list(response.context["cl"].result_list) == [wanted]


def test_staff_find_a_partner_by_name(client, staff):
    wanted = PartnerFactory(legal_name="Maison Durand SARL", trade_name="Durand")
    PartnerFactory(legal_name="Martin SAS")
    response = client.get(reverse("admin:partners_partner_changelist"), {"q": "maison durand"})
    assert list(response.context["cl"].result_list) == [wanted]


def test_a_profile_edited_by_staff_is_audited_through_the_service(client, staff):
    partner = PartnerFactory(status=Partner.Status.PENDING)
    url = reverse("admin:partners_partner_change", args=[partner.pk])
    form = client.get(url).context["adminform"].form
    data = {name: form.initial.get(name) or "" for name in form.fields}
    data.update({
        "city": "Lyon",
        "memberships-TOTAL_FORMS": "0", "memberships-INITIAL_FORMS": "0",
        "memberships-MIN_NUM_FORMS": "0", "memberships-MAX_NUM_FORMS": "1000",
    })
    response = client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    partner.refresh_from_db()
    assert partner.city == "Lyon"
    assert partner.status == Partner.Status.PENDING  # status changes only through the actions
    entry = AuditLogEntry.objects.get(action="partner.updated")
    assert entry.actor_user == staff
    assert entry.data["changes"]["city"] == ["Paris", "Lyon"]


def test_partners_cannot_be_added_or_deleted_in_the_admin(client, staff):
    partner = PartnerFactory()
    assert client.get(reverse("admin:partners_partner_add")).status_code == 403
    assert client.get(reverse("admin:partners_partner_delete", args=[partner.pk])).status_code == 403


def test_the_key_admin_shows_the_prefix_but_never_the_secret_or_its_hash(client, staff):
    key, secret = make_api_key(PartnerFactory(), scopes=["read"])
    secret_part = secret.split("_", 2)[2]  # bsk_<prefix>_<secret>; the secret itself may contain "_"
    for url in [reverse("admin:partners_apikey_changelist"), reverse("admin:partners_apikey_change", args=[key.pk])]:
        html = client.get(url).content.decode()
        assert f"bsk_{key.prefix}_…" in html
        assert key.secret_hash not in html
        assert secret_part not in html
    assert client.get(reverse("admin:partners_apikey_add")).status_code == 403


def test_staff_revoke_a_key_from_the_admin(client, staff):
    key, _secret = make_api_key(PartnerFactory())
    response = run_action(client, ApiKey, "revoke", [key])
    key.refresh_from_db()
    assert key.revoked_at is not None
    assert AuditLogEntry.objects.get(action="api_key.revoked").actor_user == staff
    assert messages_of(response) == ["1 key revoked."]


def test_invitation_and_webhook_admins_never_show_tokens_or_signing_secrets(client, staff):
    invitation = InvitationFactory()
    endpoint = WebhookEndpointFactory()
    html = client.get(reverse("admin:partners_invitation_change", args=[invitation.pk])).content.decode()
    assert invitation.email in html
    assert invitation.token_hash not in html
    html = client.get(reverse("admin:bigstock_webhookendpoint_change", args=[endpoint.pk])).content.decode()
    assert endpoint.url in html
    assert endpoint.secret not in html


def test_the_audit_log_is_read_only_and_searchable(client, staff):
    partner = PartnerFactory(legal_name="Durand SARL")
    run_action(client, Partner, "suspend", [partner])
    entry = AuditLogEntry.objects.get()
    changelist = reverse("admin:partners_auditlogentry_changelist")
    response = client.get(changelist, {"q": "Durand"})
    assert list(response.context["cl"].result_list) == [entry]
    response = client.get(changelist, {"action": "partner.suspended"})
    assert list(response.context["cl"].result_list) == [entry]
    assert client.get(reverse("admin:partners_auditlogentry_add")).status_code == 403
    change = reverse("admin:partners_auditlogentry_change", args=[entry.pk])
    page = client.get(change, HTTP_ACCEPT_LANGUAGE="fr").content.decode()
    assert "Compte suspendu" in page and "partenaire" in page  # the action and the object's kind, in words
    assert client.post(change, {"action": "edited"}).status_code == 403
    assert client.get(reverse("admin:partners_auditlogentry_delete", args=[entry.pk])).status_code == 403


def test_a_delivery_shows_its_attempts(client, staff):
    attempt = WebhookAttemptFactory(status_code=503, response_body="upstream down")
    html = client.get(reverse("admin:bigstock_webhookdelivery_change", args=[attempt.delivery.pk])).content.decode()
    assert "upstream down" in html
    assert client.get(reverse("admin:bigstock_webhookdelivery_add")).status_code == 403
    assert WebhookDelivery.objects.count() == 1


@pytest.mark.parametrize(
    "model", [m for m in admin.site._registry if m._meta.app_label in ("partners", "bigstock")],
    ids=lambda m: m._meta.label,
)
def test_every_admin_list_and_page_loads(client, staff, model):
    InvitationFactory()
    WebhookAttemptFactory()
    make_api_key(PartnerFactory())
    opts = model._meta
    assert client.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")).status_code == 200
    obj = model._default_manager.first()
    if obj is not None:
        url = reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk])
        assert client.get(url).status_code == 200
