"""The order state machine: every allowed transition, in one place."""

from django.utils.translation import gettext as _

from bigstock.errors import Conflict

from .models import Status

TRANSITIONS: dict[str, frozenset[str]] = {
    Status.SUBMITTED: frozenset({Status.CHECKING, Status.CANCELLED}),
    Status.CHECKING: frozenset({Status.ON_HOLD, Status.READY, Status.CANCELLED}),
    Status.ON_HOLD: frozenset({Status.CHECKING, Status.READY, Status.CANCELLED}),
    Status.READY: frozenset({Status.CHECKING, Status.PICKING, Status.CANCELLED}),
    Status.PICKING: frozenset({Status.PACKED, Status.CANCELLED}),
    Status.PACKED: frozenset({Status.SHIPPED, Status.CANCELLED}),
    Status.SHIPPED: frozenset({Status.DELIVERED}),
    Status.DELIVERED: frozenset({Status.RETURNED}),
    Status.CANCELLED: frozenset(),
    Status.RETURNED: frozenset(),
}

CANCELLABLE = frozenset(status for status, targets in TRANSITIONS.items() if Status.CANCELLED in targets)


class ForbiddenTransition(Conflict):
    code = "forbidden_transition"


def can_transition(from_status: str, to_status: str) -> bool:
    return to_status in TRANSITIONS[from_status]


def require_transition(from_status: str, to_status: str) -> None:
    if not can_transition(from_status, to_status):
        raise ForbiddenTransition(
            _("An order that is %(from)s cannot become %(to)s.")
            % {"from": Status(from_status).label.lower(), "to": Status(to_status).label.lower()},
            current_status=from_status,
        )
