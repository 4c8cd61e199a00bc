"""The API's JSON is written by orjson: the same bytes as DRF's own renderer, and the same
content negotiation."""

import datetime as dt
import uuid
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.utils.translation import gettext_lazy
from rest_framework import renderers
from rest_framework.exceptions import ErrorDetail
from rest_framework.utils.serializer_helpers import ReturnDict, ReturnList

from bigstock.renderers import JSONRenderer
from tests.factories import PartnerFactory, WarehouseFactory, make_api_key, make_product

PAYLOAD = ReturnDict({
    "results": ReturnList([{"sku": "MUG-É1", "available": 3}, {"sku": "TEA", "available": 0}], serializer=None),
    "next": None,
    "when": dt.datetime(2026, 11, 26, 17, 5, 3, 123456, tzinfo=dt.UTC),
    "day": dt.date(2026, 11, 26),
    "rate": Decimal("0.20"),
    "id": uuid.UUID("12345678-1234-5678-1234-567812345678"),
    "label": gettext_lazy("Required."),
    "error": ErrorDetail("Quantité invalide", code="invalid"),
    "line separator": "a\u2028b\u2029c",
    "flags": [True, False, 1.5, -2],
}, serializer=None)


def test_the_bytes_are_drfs():
    media_type = "application/json"
    assert JSONRenderer().render(PAYLOAD, media_type, {}) == renderers.JSONRenderer().render(PAYLOAD, media_type, {})


def test_an_indented_answer_is_still_indented():
    media_type = "application/json; indent=4"
    indented = JSONRenderer().render(PAYLOAD, media_type, {})
    assert indented == renderers.JSONRenderer().render(PAYLOAD, media_type, {})
    assert b'\n    "next": null' in indented


@pytest.mark.django_db
@pytest.mark.parametrize(("accept", "status", "content_type"), [
    (None, 200, "application/json"),
    ("*/*", 200, "application/json"),
    ("application/json", 200, "application/json"),
    ("text/html, application/json;q=0.9", 200, "application/json"),
    ("text/csv", 406, "application/json"),
])
def test_content_negotiation_is_drfs(client, accept, status, content_type):
    cache.clear()  # throttle counters are keyed by database ids, which tests reuse
    make_product("MUG-1", stock={WarehouseFactory(code="lyon"): 4})
    _key, secret = make_api_key(PartnerFactory(), scopes=("read",))
    headers = {"HTTP_AUTHORIZATION": f"Bearer {secret}"} | ({"HTTP_ACCEPT": accept} if accept else {})
    response = client.get("/api/v1/stock", **headers)
    assert (response.status_code, response["Content-Type"]) == (status, content_type)
    if status == 200:
        assert response.json()["results"] == [{"sku": "MUG-1", "available": 4}]
    else:
        assert response.json()["error"]["code"] == "not_acceptable"
