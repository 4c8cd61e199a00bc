from datetime import date, timedelta

import pytest

from partners import services
from partners.models import ApiKey, Role
from tests.factories import MembershipFactory, PartnerFactory, make_api_key

pytestmark = pytest.mark.django_db


@pytest.fixture
def client(client):
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


def _login(client, role=Role.OWNER):
    membership = MembershipFactory(role=role)
    client.force_login(membership.user)
    return membership


def test_new_key_secret_is_shown_once_then_only_its_prefix(client):
    owner = _login(client)
    response = client.post("/api-keys/", {"name": "ERP", "scopes": ["read", "write"]})
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    key = ApiKey.objects.get(partner=owner.partner)
    html = response.content.decode()
    secret = response.context["secret"]
    assert secret.startswith(f"bsk_{key.prefix}_")
    assert f'value="{secret}"' in html
    assert "shown only once" in html
    assert services.authenticate_api_key(secret) == key
    assert key.scopes == ["read", "write"]

    html = client.get("/api-keys/").content.decode()
    assert f"bsk_{key.prefix}_…" in html
    assert secret not in html


def test_key_with_an_expiry_date_expires_at_the_end_of_that_day(client):
    owner = _login(client)
    day = date.today() + timedelta(days=30)
    client.post("/api-keys/", {"name": "Test", "scopes": ["read"], "expires_on": day.isoformat()})
    key = ApiKey.objects.get(partner=owner.partner)
    assert key.scopes == ["read"]
    assert key.expires_at.astimezone().date() == day


def test_key_needs_a_scope_and_a_future_expiry(client):
    owner = _login(client)
    response = client.post("/api-keys/", {"name": "ERP", "scopes": []})
    assert response.context["form"].errors["scopes"]
    yesterday = (date.today() - timedelta(days=1)).isoformat()
    response = client.post("/api-keys/", {"name": "ERP", "scopes": ["read"], "expires_on": yesterday})
    assert "The expiry date must be in the future." in response.context["form"].non_field_errors()
    assert not ApiKey.objects.filter(partner=owner.partner).exists()


def test_revoked_key_stops_working_and_is_listed_as_revoked(client):
    owner = _login(client)
    key, secret = make_api_key(owner.partner, created_by=owner)
    response = client.post(f"/api-keys/{key.public_id}/revoke/", follow=True)
    assert "The key ERP is revoked" in response.content.decode()
    with pytest.raises(services.RevokedApiKey):
        services.authenticate_api_key(secret)
    assert "Revoked" in response.content.decode()


def test_another_partners_key_cannot_be_revoked(client):
    _login(client)
    key, _secret = make_api_key(PartnerFactory())
    assert client.post(f"/api-keys/{key.public_id}/revoke/").status_code == 404
    key.refresh_from_db()
    assert key.revoked_at is None


def test_a_member_gets_403_on_api_keys(client):
    member = _login(client, role=Role.MEMBER)
    key, _secret = make_api_key(member.partner)
    assert client.get("/api-keys/").status_code == 403
    assert client.post("/api-keys/", {"name": "ERP", "scopes": ["read"]}).status_code == 403
    assert client.post(f"/api-keys/{key.public_id}/revoke/").status_code == 403
    assert ApiKey.objects.filter(partner=member.partner).count() == 1


def test_the_403_page_says_who_may_manage_keys(client):
    _login(client, role=Role.MEMBER)
    assert "Only owners and admins can manage API keys." in client.get("/api-keys/").content.decode()


def test_api_keys_page_links_to_webhooks_and_the_api_docs(client):
    _login(client, role=Role.ADMIN)
    html = client.get("/api-keys/").content.decode()
    assert 'href="/webhooks/"' in html
    assert 'href="/api/v1/docs/"' in html


def test_api_keys_list_query_count_does_not_grow_with_keys(client, django_assert_max_num_queries):
    owner = _login(client)
    for number in range(30):
        make_api_key(owner.partner, created_by=owner, name=f"Key {number}")
    with django_assert_max_num_queries(12):
        assert client.get("/api-keys/").status_code == 200
