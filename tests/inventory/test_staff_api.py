"""The warehouse API: staff receive, adjust and count stock through the ledger; partners are refused."""

import importlib
import json
import re

import pytest
from django.contrib.auth.models import Permission
from knox.models import AuthToken
from rest_framework.test import APIClient

from inventory.models import StockLevel, StockMovement
from partners.models import Role
from tests.bigstock.test_api_errors import assert_error_format
from tests.factories import (
    MembershipFactory,
    PartnerFactory,
    UserFactory,
    WarehouseFactory,
    make_api_key,
    make_product,
)
from tests.factories import submit as submit_order

pytestmark = pytest.mark.django_db

ADJUST, RECEIVE, COUNT = ("/api/v1/staff/stock/adjustments", "/api/v1/staff/stock/receipts",
                          "/api/v1/staff/stock/counts")


def staff_user(*, may_change_stock=True, **fields):
    user = UserFactory(is_staff=True, **fields)
    if may_change_stock:
        user.user_permissions.add(Permission.objects.get(codename="change_stocklevel"))
    return user


def token_client(user) -> APIClient:
    client = APIClient(HTTP_ACCEPT_LANGUAGE="en")
    _stored, token = AuthToken.objects.create(user=user, expiry=None)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client


def post(client, url, body, **headers):
    return client.post(url, json.dumps(body), content_type="application/json", **headers)


@pytest.fixture
def lyon():
    return WarehouseFactory(code="lyon")


@pytest.fixture
def tea(lyon):
    return make_product("TEA-1", stock={lyon: 10})


@pytest.fixture
def warehouse_system():
    user = staff_user(email="wms@bigstock.example")
    return token_client(user)


def level(product, warehouse) -> StockLevel:
    return StockLevel.objects.get(product=product, warehouse=warehouse)


def test_an_adjustment_changes_the_level_and_is_in_the_ledger_with_its_reason(warehouse_system, tea, lyon):
    response = post(warehouse_system, ADJUST, {"sku": "TEA-1", "warehouse": "lyon", "delta": -3,
                                               "reason": "Broken in handling"})

    assert response.status_code == 201, response.content
    assert {key: response.json()[key] for key in ("sku", "warehouse", "on_hand", "reserved", "available")} == {
        "sku": "TEA-1", "warehouse": "lyon", "on_hand": 7, "reserved": 0, "available": 7}
    movement = StockMovement.objects.filter(level=level(tea, lyon)).latest("pk")
    assert (movement.kind, movement.on_hand_delta, movement.on_hand_after, movement.reason, movement.actor_label) == (
        "adjustment", -3, 7, "Broken in handling", "wms@bigstock.example (staff)")


def test_a_receipt_and_a_count_go_through_the_ledger(warehouse_system, tea, lyon):
    received = post(warehouse_system, RECEIVE, {"sku": "TEA-1", "warehouse": "lyon", "quantity": 5})
    counted = post(warehouse_system, COUNT, {"sku": "TEA-1", "warehouse": "lyon", "counted": 12})

    assert (received.status_code, received.json()["on_hand"]) == (201, 15)
    assert (counted.status_code, counted.json()["on_hand"]) == (201, 12)
    kinds = list(StockMovement.objects.filter(level=level(tea, lyon)).order_by("pk").values_list("kind", "on_hand_delta"))
    assert kinds[-2:] == [("receipt", 5), ("count", -3)]


def test_a_new_warehouse_gets_its_level(warehouse_system, tea):
    WarehouseFactory(code="lille")
    response = post(warehouse_system, RECEIVE, {"sku": "TEA-1", "warehouse": "lille", "quantity": 4})
    assert (response.status_code, response.json()["on_hand"]) == (201, 4)


@pytest.mark.parametrize(("url", "body", "field"), [
    (ADJUST, {"sku": "TEA-1", "warehouse": "lyon", "delta": 1}, "reason"),
    (ADJUST, {"sku": "TEA-1", "warehouse": "lyon", "delta": "two", "reason": "found"}, "delta"),
    (RECEIVE, {"sku": "TEA-1", "warehouse": "lyon", "quantity": 0}, "quantity"),
    (COUNT, {"sku": "TEA-1", "warehouse": "lyon", "counted": -1}, "counted"),
])
def test_bad_input_is_refused_naming_the_field_and_changes_nothing(warehouse_system, tea, lyon, url, body, field):
    movements = StockMovement.objects.count()
    error = assert_error_format(post(warehouse_system, url, body), 400, "invalid")
    assert field in error["fields"], error
    assert StockMovement.objects.count() == movements and level(tea, lyon).on_hand == 10


def test_an_unknown_sku_or_warehouse_is_refused_by_name(warehouse_system, tea, lyon):
    unknown_sku = post(warehouse_system, ADJUST, {"sku": "NOPE-1", "warehouse": "lyon", "delta": 1, "reason": "found"})
    unknown_warehouse = post(warehouse_system, COUNT, {"sku": "TEA-1", "warehouse": "paris", "counted": 3})

    assert assert_error_format(unknown_sku, 404, "unknown_sku")["fields"] == {"sku": ["Unknown SKU NOPE-1."]}
    assert assert_error_format(unknown_warehouse, 400, "unknown_warehouse")["fields"] == {
        "warehouse": ["Unknown warehouse paris."]}
    assert level(tea, lyon).on_hand == 10


def test_a_zero_adjustment_is_refused(warehouse_system, tea):
    error = assert_error_format(post(warehouse_system, ADJUST, {"sku": "TEA-1", "warehouse": "lyon", "delta": 0,
                                                                "reason": "nothing"}), 400, "invalid_quantity")
    assert "delta" in error["fields"]


def test_stock_reserved_for_orders_cannot_be_adjusted_or_counted_away(warehouse_system, tea, lyon):
    submit_order(PartnerFactory(), ("TEA-1", 8))

    removed = post(warehouse_system, ADJUST, {"sku": "TEA-1", "warehouse": "lyon", "delta": -5, "reason": "lost"})
    counted = post(warehouse_system, COUNT, {"sku": "TEA-1", "warehouse": "lyon", "counted": 6})

    error = assert_error_format(removed, 409, "stock_below_zero")
    assert "10 on hand, 8 reserved" in error["message"] and "at most 2" in error["message"]
    assert_error_format(counted, 409, "stock_below_zero")
    assert (level(tea, lyon).on_hand, level(tea, lyon).reserved) == (10, 8)


def test_a_retry_with_the_same_idempotency_key_adjusts_once(warehouse_system, tea, lyon):
    body = {"sku": "TEA-1", "warehouse": "lyon", "delta": 2, "reason": "found on the floor"}
    first = post(warehouse_system, ADJUST, body, HTTP_IDEMPOTENCY_KEY="wms-7781")
    again = post(warehouse_system, ADJUST, body, HTTP_IDEMPOTENCY_KEY="wms-7781")
    assert (first.status_code, again.status_code, again["Idempotent-Replayed"]) == (201, 201, "true")
    assert level(tea, lyon).on_hand == 12


def test_partners_and_staff_without_the_permission_are_refused(tea, lyon):
    body = {"sku": "TEA-1", "warehouse": "lyon", "delta": 5, "reason": "found"}
    partner = PartnerFactory()
    owner = MembershipFactory(partner=partner, role=Role.OWNER)
    _key, secret = make_api_key(partner, created_by=owner)
    with_key = APIClient(HTTP_ACCEPT_LANGUAGE="en")
    with_key.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    signed_in_owner = APIClient(HTTP_ACCEPT_LANGUAGE="en")
    signed_in_owner.force_login(owner.user)
    demoted = staff_user()
    demoted_client = token_client(demoted)
    demoted.is_staff = False
    demoted.save()

    assert_error_format(post(with_key, ADJUST, body), 401, "not_authenticated")
    assert_error_format(post(signed_in_owner, ADJUST, body), 403, "permission_denied")
    assert_error_format(post(token_client(staff_user(may_change_stock=False)), ADJUST, body), 403, "permission_denied")
    assert_error_format(post(demoted_client, ADJUST, body), 401, "authentication_failed")
    assert_error_format(post(APIClient(), ADJUST, body), 401, "not_authenticated")
    assert level(tea, lyon).on_hand == 10


def test_staff_signed_in_to_the_admin_may_use_it(tea, lyon):
    client = APIClient(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(staff_user())
    response = post(client, RECEIVE, {"sku": "TEA-1", "warehouse": "lyon", "quantity": 1})
    assert response.status_code == 201 and level(tea, lyon).on_hand == 11


def test_refusals_are_in_the_callers_language(tea):
    client = token_client(staff_user())
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "fr"
    error = post(client, ADJUST, {"sku": "TEA-1", "warehouse": "paris", "delta": 1, "reason": "trouvé"}).json()["error"]
    assert error["fields"] == {"warehouse": ["Entrepôt inconnu : paris."]}


def test_a_deleted_token_stops_working_at_once(tea):
    user = staff_user()
    client = token_client(user)
    assert post(client, RECEIVE, {"sku": "TEA-1", "warehouse": "lyon", "quantity": 1}).status_code == 201
    AuthToken.objects.filter(user=user).delete()
    assert_error_format(post(client, RECEIVE, {"sku": "TEA-1", "warehouse": "lyon", "quantity": 1}), 401,
                        "authentication_failed")


def test_the_answer_has_the_documented_fields(warehouse_system, tea):
    from inventory.staff_api import LevelSerializer

    answer = post(warehouse_system, RECEIVE, {"sku": "TEA-1", "warehouse": "lyon", "quantity": 1}).json()
    assert list(answer) == list(LevelSerializer().fields)
    assert answer["updated_at"].endswith("Z")


def test_a_permission_taken_away_stops_the_token_at_once(tea):
    user = staff_user()
    client = token_client(user)
    assert post(client, RECEIVE, {"sku": "TEA-1", "warehouse": "lyon", "quantity": 1}).status_code == 201

    user.user_permissions.remove(Permission.objects.get(codename="change_stocklevel"))

    assert_error_format(post(client, RECEIVE, {"sku": "TEA-1", "warehouse": "lyon", "quantity": 1}), 403,
                        "permission_denied")


def test_a_permission_given_through_a_group_counts_at_once(tea):
    from django.contrib.auth.models import Group

    user = staff_user(may_change_stock=False)
    client = token_client(user)
    assert post(client, RECEIVE, {"sku": "TEA-1", "warehouse": "lyon", "quantity": 1}).status_code == 403
    warehouse_team = Group.objects.create(name="Warehouse")
    user.groups.add(warehouse_team)
    assert post(client, RECEIVE, {"sku": "TEA-1", "warehouse": "lyon", "quantity": 1}).status_code == 403

    warehouse_team.permissions.add(Permission.objects.get(codename="change_stocklevel"))

    assert post(client, RECEIVE, {"sku": "TEA-1", "warehouse": "lyon", "quantity": 1}).status_code == 201


def test_an_adjustment_is_two_statements_on_postgresql(warehouse_system, tea, lyon, django_assert_max_num_queries):
    """The product, then the level + its movement + the feed row in one statement and no explicit
    transaction (elsewhere: BEGIN, the level locked, three writes, COMMIT)."""
    from django.db import connection

    body = {"sku": "TEA-1", "warehouse": "lyon", "delta": 2, "reason": "found"}
    assert post(warehouse_system, ADJUST, body).status_code == 201  # the token and the warehouse kept

    with django_assert_max_num_queries(2 if connection.vendor == "postgresql" else 7):
        assert post(warehouse_system, ADJUST, body).status_code == 201

    movements = StockMovement.objects.filter(level__product=tea).order_by("pk")
    assert [(m.on_hand_delta, m.on_hand_after) for m in movements][-2:] == [(2, 12), (2, 14)]
    assert level(tea, lyon).on_hand == 14
    tea.availability.refresh_from_db()
    assert (tea.availability.on_hand, tea.availability.change_seq) == (14, movements.last().pk)



# --- Tokens: issued in the admin, kept as a hash -----------------------------------------------------


def test_a_token_is_kept_only_as_its_hash_and_a_token_sharing_its_start_is_refused(tea):
    user = staff_user()
    stored, token = AuthToken.objects.create(user=user, expiry=None)
    row = AuthToken.objects.filter(pk=stored.pk).values().get()
    assert token not in [str(value) for value in row.values()]
    forged = APIClient(HTTP_ACCEPT_LANGUAGE="en")
    forged.credentials(HTTP_AUTHORIZATION=f"Token {token[:15]}{'0' * (len(token) - 15)}")
    assert_error_format(post(forged, RECEIVE, {"sku": "TEA-1", "warehouse": "lyon", "quantity": 1}), 401,
                        "authentication_failed")


def test_staff_issue_a_token_in_the_admin_shown_once_that_then_works(client, tea):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    system = staff_user(email="wms@bigstock.example")
    response = client.post("/admin/inventory/stafftoken/add/", {"user": system.pk}, follow=True)
    messages = " ".join(str(message) for message in response.context["messages"])
    token = re.search(r"\b[0-9a-f]{64}\b", messages).group()  # shown once (the stored hash is 128 long)
    assert "wms@bigstock.example" in messages
    stored = AuthToken.objects.get(user=system)
    assert stored.digest != token and token not in client.get("/admin/inventory/stafftoken/").content.decode()
    api = APIClient(HTTP_ACCEPT_LANGUAGE="en")
    api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert post(api, RECEIVE, {"sku": "TEA-1", "warehouse": "lyon", "quantity": 1}).status_code == 201


def test_tokens_issued_before_knox_keep_working_and_their_clear_copy_is_gone(tea):
    from django.apps import apps
    from rest_framework.authtoken.models import Token

    migration = importlib.import_module("inventory.migrations.0005_staff_tokens_to_knox")
    old = Token.objects.create(user=staff_user())
    migration.to_knox(apps, None)
    assert not Token.objects.exists()
    api = APIClient(HTTP_ACCEPT_LANGUAGE="en")
    api.credentials(HTTP_AUTHORIZATION=f"Token {old.key}")
    assert post(api, RECEIVE, {"sku": "TEA-1", "warehouse": "lyon", "quantity": 1}).status_code == 201
