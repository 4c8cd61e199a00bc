import datetime as dt

import pytest
import time_machine

from bigstock.models import IdempotencyRecord
from tests.factories import UserFactory

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.bigstock.urls")]

URL = "/api/v1/test-echo"


@pytest.fixture
def api(client):
    client.force_login(UserFactory())

    def post(body, key=None):
        headers = {"HTTP_IDEMPOTENCY_KEY": key} if key is not None else {}
        return client.post(URL, body, content_type="application/json", **headers)

    return post


def test_same_key_and_body_replays_the_first_response(api):
    first = api({"name": "a", "quantity": 1}, key="k-1")
    second = api({"name": "a", "quantity": 1}, key="k-1")
    assert first.status_code == second.status_code == 201
    assert second.json() == first.json()
    assert second["Idempotent-Replayed"] == "true"


def test_without_a_key_each_post_is_new(api):
    assert api({"name": "a", "quantity": 1}).json()["id"] != api({"name": "a", "quantity": 1}).json()["id"]


def test_same_key_with_another_body_is_refused(api):
    api({"name": "a", "quantity": 1}, key="k-2")
    response = api({"name": "a", "quantity": 2}, key="k-2")
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "idempotency_key_reused"


def test_validation_errors_are_replayed_too(api):
    first = api({"name": "a", "quantity": 0}, key="k-3")
    assert first.status_code == 400
    assert api({"name": "a", "quantity": 0}, key="k-3").json() == first.json()


def test_keys_are_per_caller(client):
    body = {"name": "a", "quantity": 1}
    client.force_login(UserFactory())
    first = client.post(URL, body, content_type="application/json", HTTP_IDEMPOTENCY_KEY="shared")
    client.force_login(UserFactory())
    other = client.post(URL, body, content_type="application/json", HTTP_IDEMPOTENCY_KEY="shared")
    assert first.json()["id"] != other.json()["id"]


def test_key_expires_after_24_hours(api):
    with time_machine.travel(dt.datetime(2026, 3, 1, 9, tzinfo=dt.UTC), tick=False) as traveller:
        first = api({"name": "a", "quantity": 1}, key="k-4")
        traveller.shift(dt.timedelta(hours=24, minutes=1))
        again = api({"name": "a", "quantity": 1}, key="k-4")
    assert again.status_code == 201
    assert again.json()["id"] != first.json()["id"]
    assert "Idempotent-Replayed" not in again


def test_a_request_still_running_with_the_same_key_gets_409(api):
    api({"name": "a", "quantity": 1}, key="k-5")
    IdempotencyRecord.objects.filter(key="k-5").update(response_status=None, response_body=None)
    response = api({"name": "a", "quantity": 1}, key="k-5")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "idempotency_key_in_use"


def test_an_overlong_key_is_refused(api):
    response = api({"name": "a", "quantity": 1}, key="x" * 256)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_idempotency_key"


def test_purge_deletes_only_expired_keys(api):
    from bigstock.tasks import purge_idempotency_keys

    with time_machine.travel(dt.datetime(2026, 3, 1, 9, tzinfo=dt.UTC), tick=False) as traveller:
        api({"name": "a", "quantity": 1}, key="old")
        traveller.shift(dt.timedelta(hours=23))
        api({"name": "a", "quantity": 1}, key="recent")
        traveller.shift(dt.timedelta(hours=2))
        assert purge_idempotency_keys.delay().get() == 1
    assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["recent"]
