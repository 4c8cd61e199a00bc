"""Support tasks (queue ``default``): thin wrappers that load ids and call one function."""

from celery import shared_task

from . import emails, services


@shared_task
def notify_message(message_id: int) -> int:
    return emails.notify_message(message_id=message_id)


@shared_task
def notify_status(ticket_id: int, status: str) -> int:
    return emails.notify_status(ticket_id=ticket_id, status=status)


@shared_task
def notify_reopened(ticket_id: int) -> int:
    return emails.notify_reopened(ticket_id=ticket_id)


@shared_task
def notify_assigned(ticket_id: int) -> int:
    return emails.notify_assigned(ticket_id=ticket_id)


@shared_task
def notify_escalation(ticket_id: int, target: str) -> int:
    return emails.notify_escalation(ticket_id=ticket_id, target=target)


@shared_task
def escalate_tickets() -> int:
    """Beat, every 5 minutes: tickets close to or past their SLA, each escalated once per target."""
    return services.escalate_due_tickets()


@shared_task
def close_resolved_tickets() -> int:
    """Beat, hourly: resolved tickets without a reply for BIGSTOCK_SUPPORT_AUTO_CLOSE_DAYS close."""
    return services.close_resolved_tickets()
