"""Gapless, chronological numbers: ``BS-2026-000123`` for invoices, ``AV-2026-000007`` for
credit notes. A number is taken inside the caller's transaction by one conditional
``UPDATE ... RETURNING``, which locks the series row until commit: a rollback gives the
number back, and concurrent finalizations queue up in order."""

from django.db import connection, transaction

from .models import NumberSequence

INVOICE_SERIES = "BS"
CREDIT_NOTE_SERIES = "AV"

_TAKE = (
    "UPDATE subscriptions_numbersequence SET last_number = last_number + 1 "
    "WHERE series = %s AND year = %s RETURNING last_number"
)


def next_number(*, series: str, year: int) -> str:
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("numbers are allocated inside the transaction that uses them")
    with connection.cursor() as cursor:
        cursor.execute(_TAKE, [series, year])
        row = cursor.fetchone()
        if row is None:  # first number of the year for this series
            NumberSequence.objects.bulk_create([NumberSequence(series=series, year=year)], ignore_conflicts=True)
            cursor.execute(_TAKE, [series, year])
            row = cursor.fetchone()
    return f"{series}-{year}-{row[0]:06d}"
