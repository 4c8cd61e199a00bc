"""Gapless, chronological numbers: ``BS-2026-000123`` for invoices, ``AV-2026-000007`` for
credit notes. A number is taken inside the caller's transaction, with the series row
locked, so a rollback gives it back and concurrent finalizations queue up in order."""

from django.db import transaction

from .models import NumberSequence

INVOICE_SERIES = "BS"
CREDIT_NOTE_SERIES = "AV"


def next_number(*, series: str, year: int) -> str:
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("numbers are allocated inside the transaction that uses them")
    NumberSequence.objects.bulk_create([NumberSequence(series=series, year=year)], ignore_conflicts=True)
    sequence = NumberSequence.objects.select_for_update().get(series=series, year=year)
    sequence.last_number += 1
    sequence.save(update_fields=["last_number"])
    return f"{series}-{year}-{sequence.last_number:06d}"
