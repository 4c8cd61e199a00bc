"""bigstock.sql.insert: the hot paths' INSERT, which must store what the ORM's save would."""

import pytest
from django.utils.translation import gettext_lazy

from bigstock import sql
from bigstock.ids import new_public_id
from bigstock.models import IdempotencyRecord

pytestmark = pytest.mark.django_db


def test_insert_stores_values_as_save_would_and_sets_the_keys():
    first, second = sql.insert([
        IdempotencyRecord(scope="partner:1", key="k-1", method="POST", path="/api/v1/orders", request_hash="a" * 64),
        # Values not of the column's own type are prepared by their field, as save() does.
        IdempotencyRecord(scope="partner:1", key=gettext_lazy("k-2"), method="POST", path="/api/v1/orders",
                          request_hash="b" * 64, response_status="201", response_body={"id": "ord_1"}),
    ])

    assert first.pk and second.pk and first.pk != second.pk
    stored = {record.pk: record for record in IdempotencyRecord.objects.all()}
    assert stored[first.pk].key == "k-1" and stored[first.pk].response_status is None
    assert stored[first.pk].created_at is not None  # auto_now_add applied
    assert stored[second.pk].key == "k-2"
    assert stored[second.pk].response_status == 201
    assert stored[second.pk].response_body == {"id": "ord_1"}


def test_many_rows_are_stored_in_order_whichever_form_the_statement_takes():
    """Beyond psycopg's 50 parameters, PostgreSQL gets one array per column: the same rows, the
    same keys in the same order, NULLs and JSON included."""
    records = [IdempotencyRecord(scope="partner:1", key=f"k-{n}", method="POST", path="/api/v1/orders",
                                 request_hash=f"{n:064d}", response_status=201 if n % 2 else None,
                                 response_body={"n": n, "é": ["ü"]} if n % 3 else None)
               for n in range(12)]
    assert len(records) * 8 > sql.PSYCOPG_PARSED_PARAMETERS

    sql.insert(records)

    assert [record.pk for record in records] == sorted(record.pk for record in records)
    stored = list(IdempotencyRecord.objects.order_by("pk").values_list(
        "pk", "key", "request_hash", "response_status", "response_body"))
    assert stored == [(record.pk, f"k-{n}", f"{n:064d}", 201 if n % 2 else None,
                       {"n": n, "é": ["ü"]} if n % 3 else None) for n, record in enumerate(records)]
    assert IdempotencyRecord.objects.filter(created_at__isnull=True).count() == 0


def test_a_value_too_long_for_its_column_is_refused_not_cut(requires_postgres):
    from django.db import DataError, transaction

    records = [IdempotencyRecord(scope="partner:1", key=f"k-{n}", method="POST", path="/p",
                                 request_hash="x" * (65 if n == 11 else 64)) for n in range(12)]
    with pytest.raises(DataError, match="too long"), transaction.atomic():
        sql.insert(records)
    assert not IdempotencyRecord.objects.exists()


def test_public_ids_are_the_prefix_and_twenty_random_base62_characters():
    ids = {new_public_id("ord") for _ in range(2000)}

    assert len(ids) == 2000
    for public_id in ids:
        prefix, random_part = public_id.split("_")
        assert prefix == "ord" and len(random_part) == 20 and random_part.isalnum() and random_part.isascii()
    assert len({character for public_id in ids for character in public_id[4:]}) == 62
