"""Ticket references under concurrency, on PostgreSQL with real threads: the first tickets of a
year race to create the year's counter row, then each takes the next number under its lock."""

import pytest

from partners.audit import Actor
from support import services
from support.models import Ticket
from tests.concurrency import run_together
from tests.factories import MembershipFactory
from tests.support.conftest import paris

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]


def test_parallel_tickets_get_distinct_consecutive_references(requires_postgres):
    members = [MembershipFactory() for _ in range(8)]
    errors = []

    def worker(member):
        try:
            for number in range(5):
                services.open_ticket(partner=member.partner, actor=Actor(user=member.user), subject=f"Q{number}",
                                     body="?", category="other", now=paris(2028, 1, 3, 10, 0))
        except Exception as exc:  # surfaced by the assertion below
            errors.append(exc)

    run_together(worker, members)
    assert errors == []
    references = sorted(Ticket.objects.values_list("reference", flat=True))
    assert references == [f"T-2028-{n:05d}" for n in range(1, 41)]
