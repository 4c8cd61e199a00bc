"""Outgoing webhooks, signed per the Standard Webhooks specification.

CONTRACT (being implemented): every function below keeps this signature.
"""

from .models import PartnerEvent, WebhookDelivery, WebhookEndpoint


def fan_out(event: PartnerEvent) -> list[WebhookDelivery]:
    """Create one pending delivery per enabled endpoint that wants ``event`` (caller's transaction)."""
    endpoints = WebhookEndpoint.objects.for_partner(event.partner).filter(enabled=True)
    return [
        WebhookDelivery.objects.create(partner=event.partner, endpoint=endpoint, event=event)
        for endpoint in endpoints
        if endpoint.wants(event.type)
    ]


def create_endpoint(*, partner, url: str, description: str, event_types: list[str]) -> tuple[WebhookEndpoint, str]:
    raise NotImplementedError


def update_endpoint(*, endpoint: WebhookEndpoint, **changes) -> WebhookEndpoint:
    raise NotImplementedError


def delete_endpoint(*, endpoint: WebhookEndpoint) -> None:
    raise NotImplementedError


def redeliver(*, delivery: WebhookDelivery) -> WebhookDelivery:
    raise NotImplementedError


def send_test_event(*, endpoint: WebhookEndpoint) -> WebhookDelivery:
    raise NotImplementedError
