"""Outgoing webhooks, signed per the Standard Webhooks specification (https://www.standardwebhooks.com).

How a delivery travels:

1. ``events.publish`` → ``fan_out`` creates one pending ``WebhookDelivery`` per subscribed
   endpoint in the caller's transaction, and queues ``deliver_webhook`` once it commits.
2. ``deliver`` claims the row with one conditional UPDATE (so a duplicate or late task does
   nothing), POSTs the signed envelope outside any transaction and records a
   ``WebhookAttempt``.
3. A failure that may heal sets ``next_attempt_at`` from ``RETRY_DELAYS``; the beat task
   ``sweep_webhook_deliveries`` queues it again when it is due. Retries are never Celery
   countdowns (brokers lose or duplicate them): the database is the record of pending work,
   and the same sweep re-sends anything a broker lost.

Safety: BigStock must never be made to call its own network (SSRF). A URL is checked when it
is saved and again right before each request (the DNS answer may have changed: DNS
rebinding), and the request connects to the address that was checked, not to a second DNS
answer, while TLS still verifies the certificate for the URL's host name.
"""

import base64
import hashlib
import hmac
import ipaddress
import json
import logging
import secrets
import socket
import time
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit

import requests
from django.apps import apps
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.core.validators import URLValidator
from django.db import transaction
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from kombu.exceptions import OperationalError as BrokerUnavailable
from requests.adapters import HTTPAdapter

from . import mail, sql
from .errors import Conflict, DomainError
from .events import EVENT_TYPES, envelope
from .models import PartnerEvent, WebhookAttempt, WebhookDelivery, WebhookEndpoint

logger = logging.getLogger(__name__)

SECRET_PREFIX = "whsec_"  # noqa: S105 (a prefix, not a secret)
SECRET_BYTES = 32  # Standard Webhooks asks for 24 to 64 random bytes
USER_AGENT = "BigStock-Webhooks/1"
TIMEOUT_S = 10
RESPONSE_BODY_LIMIT = 1024  # bytes of the receiver's answer kept for the portal
# Longer than one attempt can take (connect + read timeouts), so no second worker claims a
# delivery that is still being sent.
LOCK_DURATION = timedelta(seconds=60)
# Waits after the 1st, 2nd... failed attempt: 8 attempts over about 27 hours.
RETRY_DELAYS = (
    timedelta(seconds=5),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=5),
    timedelta(hours=10),
    timedelta(hours=10),
)
DISABLE_AFTER = timedelta(hours=24)  # an endpoint failing this long is disabled
# The sweep leaves alone a due delivery it (or fan_out) queued less than this long ago, so a
# busy queue does not fill with duplicates; past it, the message is presumed lost.
REDISPATCH_AFTER = timedelta(minutes=2)
SWEEP_BATCH = 500
# 4xx answers that mean "try again later"; any other 4xx is the receiver refusing for good.
RETRYABLE_CLIENT_ERRORS = frozenset({408, 429})
UPDATABLE_FIELDS = frozenset({"url", "description", "event_types", "enabled"})
# NAT64 addresses embed an IPv4 address that the gateway will reach (RFC 6052).
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


# --- Errors -------------------------------------------------------------------------------


class WebhookUrlInvalid(DomainError):
    code = "webhook_url_invalid"


class WebhookUrlInsecure(WebhookUrlInvalid):
    code = "webhook_url_insecure"


class WebhookUrlPrivate(WebhookUrlInvalid):
    code = "webhook_url_private"


class WebhookUrlUnresolvable(WebhookUrlInvalid):
    code = "webhook_url_unresolvable"


class WebhookEventTypeUnknown(DomainError):
    code = "webhook_event_type_unknown"


class WebhookEndpointInvalid(DomainError):
    code = "webhook_endpoint_invalid"


class WebhookEndpointDisabled(Conflict):
    code = "webhook_endpoint_disabled"

    def default_message(self) -> str:
        return _("This endpoint is disabled: enable it first.")


def _url_error(error_class: type[WebhookUrlInvalid], message: str) -> WebhookUrlInvalid:
    return error_class(message, fields={"url": [message]})


# --- URL safety ---------------------------------------------------------------------------


def validate_url(url: str) -> list[str]:
    """Refuse a URL BigStock must not call; return the addresses its host resolves to.

    https only (http too when ``DEBUG``); every address the host resolves to must be public:
    never loopback, private, link-local, multicast, reserved or unspecified, in IPv4 or IPv6.
    ``BIGSTOCK_WEBHOOKS_ALLOW_LOOPBACK`` allows loopback addresses only, over http too
    (development and tests). Raises a ``WebhookUrlInvalid`` subclass that says why.
    """
    try:
        URLValidator(schemes=["http", "https"])(url)
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except (ValidationError, ValueError):
        raise _url_error(WebhookUrlInvalid, _("Enter a valid URL starting with https://.")) from None
    allow_loopback = settings.BIGSTOCK_WEBHOOKS_ALLOW_LOOPBACK
    insecure = _("The URL must use https: BigStock does not send events in clear text.")
    # Refused before any DNS lookup when no address could make it acceptable.
    if parts.scheme != "https" and not settings.DEBUG and not allow_loopback:
        raise _url_error(WebhookUrlInsecure, insecure)
    addresses = _resolve(parts.hostname, port)
    for address in addresses:
        reason = _refusal_reason(address)
        if reason:
            raise _url_error(WebhookUrlPrivate, reason)
    if parts.scheme != "https" and not settings.DEBUG and not all(_unwrap(a).is_loopback for a in addresses):
        raise _url_error(WebhookUrlInsecure, insecure)
    return [str(address) for address in addresses]


def _resolve(host: str, port: int) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    """Every address ``host`` resolves to (an IP literal resolves to itself, without DNS)."""
    unresolvable = _("The host %(host)s cannot be resolved: check the URL.") % {"host": host}
    try:
        infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):  # socket.gaierror is an OSError; bad IDNA is a UnicodeError
        raise _url_error(WebhookUrlUnresolvable, unresolvable) from None
    addresses = []
    for *_ignored, sockaddr in infos:
        address = ipaddress.ip_address(sockaddr[0].split("%", 1)[0])  # drop an IPv6 zone ("%eth0")
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise _url_error(WebhookUrlUnresolvable, unresolvable)
    return addresses


def _unwrap(address):
    """The IPv4 address an IPv6 address really reaches (IPv4-mapped, 6to4, NAT64), or itself."""
    if address.version == 6:
        if address.ipv4_mapped or address.sixtofour:
            return address.ipv4_mapped or address.sixtofour
        if address in _NAT64:
            return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address


def _refusal_reason(address) -> str | None:
    """Why BigStock will not send to ``address``, or None when it is a public address."""
    ip = _unwrap(address)
    shown = {"address": str(address) if ip is address else f"{address} ({ip})"}
    if ip.is_loopback:
        if settings.BIGSTOCK_WEBHOOKS_ALLOW_LOOPBACK:
            return None
        return _("The host resolves to a loopback address %(address)s, which webhooks cannot reach.") % shown
    # Order matters: these ranges are also "private" for the ipaddress module.
    if ip.is_unspecified:
        return _("The host resolves to an unspecified address %(address)s, which webhooks cannot reach.") % shown
    if ip.is_link_local:
        return _("The host resolves to a link-local address %(address)s, which webhooks cannot reach.") % shown
    if ip.is_multicast:
        return _("The host resolves to a multicast address %(address)s, which webhooks cannot reach.") % shown
    if ip.is_private:
        return _("The host resolves to a private address %(address)s, which webhooks cannot reach.") % shown
    if ip.is_reserved or not ip.is_global:  # e.g. 100.64.0.0/10 (carrier-grade NAT), 240.0.0.0/4
        return _("The host resolves to a reserved address %(address)s, which webhooks cannot reach.") % shown
    return None


# --- Endpoints ----------------------------------------------------------------------------


def _new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def _clean_event_types(event_types) -> list[str]:
    """Known event types, without duplicates; an empty list means every event."""
    if event_types is None:
        return []
    if isinstance(event_types, str) or not all(isinstance(event_type, str) for event_type in event_types):
        message = _("Event types must be a list of names.")
        raise WebhookEventTypeUnknown(message, fields={"event_types": [message]})
    unknown = sorted(set(event_types) - EVENT_TYPES.keys())
    if unknown:
        message = _("Unknown event types: %(types)s.") % {"types": ", ".join(unknown)}
        raise WebhookEventTypeUnknown(message, fields={"event_types": [message]})
    return list(dict.fromkeys(event_types))


def _save(endpoint: WebhookEndpoint, *, update_fields: list[str] | None = None) -> None:
    try:
        endpoint.full_clean()
    except ValidationError as exc:
        raise WebhookEndpointInvalid(_("Some fields are invalid."), fields=exc.message_dict) from None
    endpoint.save(update_fields=update_fields)


@transaction.atomic
def create_endpoint(*, partner, url: str, description: str, event_types: list[str]) -> tuple[WebhookEndpoint, str]:
    """Register ``url`` for ``partner``; returns (endpoint, secret).

    The ``whsec_`` secret is stored because every delivery is signed with it; the portal
    shows it once. ``event_types`` empty means every event, including future ones.
    """
    url = url.strip()
    validate_url(url)
    secret = _new_secret()
    endpoint = WebhookEndpoint(
        partner=partner,
        url=url,
        description=(description or "").strip(),
        event_types=_clean_event_types(event_types),
        secret=secret,
    )
    _save(endpoint)
    logger.info("webhook endpoint created", extra={"partner": partner.pk, "endpoint": endpoint.public_id})
    return endpoint, secret


@transaction.atomic
def update_endpoint(*, endpoint: WebhookEndpoint, **changes) -> WebhookEndpoint:
    """Change ``url``, ``description``, ``event_types`` or ``enabled``.

    A changed URL is checked again. Re-enabling clears the failure state (``failing_since``,
    ``disabled_reason``); deliveries that failed meanwhile are not resent (redeliver them).
    """
    unexpected = set(changes) - UPDATABLE_FIELDS
    if unexpected:
        raise TypeError(f"update_endpoint() cannot change {', '.join(sorted(unexpected))}")
    fields = []
    if "url" in changes:
        url = changes["url"].strip()
        if url != endpoint.url:
            validate_url(url)
            endpoint.url = url
            fields.append("url")
    if "description" in changes:
        endpoint.description = (changes["description"] or "").strip()
        fields.append("description")
    if "event_types" in changes:
        endpoint.event_types = _clean_event_types(changes["event_types"])
        fields.append("event_types")
    if "enabled" in changes:
        enabled = bool(changes["enabled"])
        if enabled and not endpoint.enabled:
            endpoint.failing_since = None
            endpoint.disabled_reason = ""
        endpoint.enabled = enabled
        fields += ["enabled", "failing_since", "disabled_reason"]
    # Only the changed columns: deliveries update failing_since/enabled concurrently.
    _save(endpoint, update_fields=[*fields, "updated_at"])
    return endpoint


@transaction.atomic
def rotate_secret(*, endpoint: WebhookEndpoint) -> str:
    """Replace the signing secret and return the new one (shown once).

    Deliveries sent from now on, retries included, are signed with the new secret.
    """
    endpoint.secret = _new_secret()
    endpoint.save(update_fields=["secret", "updated_at"])
    logger.info("webhook secret rotated", extra={"partner": endpoint.partner_id, "endpoint": endpoint.public_id})
    return endpoint.secret


@transaction.atomic
def delete_endpoint(*, endpoint: WebhookEndpoint) -> None:
    """Delete the endpoint with its deliveries and attempts; queued tasks then find nothing."""
    endpoint.delete()


# --- Deliveries: creating and queueing ----------------------------------------------------


def enabled_endpoints(partner) -> list[WebhookEndpoint]:
    """The endpoints ``fan_out`` sends ``partner``'s events to (those that want the type)."""
    # Most partners have none: one prepared statement answers that for every order they send.
    if not sql.fetch(_HAS_ENDPOINT_SQL, [partner.pk]):
        return []
    return list(WebhookEndpoint.objects.for_partner(partner).filter(enabled=True))


_HAS_ENDPOINT_SQL = (f"SELECT 1 FROM {WebhookEndpoint._meta.db_table} "  # noqa: S608 (the model's table)
                     "WHERE partner_id = %s AND enabled LIMIT 1")


def fan_out(event: PartnerEvent, endpoints: list[WebhookEndpoint] | None = None) -> list[WebhookDelivery]:
    """Create one pending delivery per enabled endpoint that wants ``event`` (caller's transaction).

    They are queued once the transaction commits, so a rolled-back change sends nothing.
    ``endpoints``: ``enabled_endpoints(event.partner)`` when the caller has read them already.
    """
    if endpoints is None:
        endpoints = enabled_endpoints(event.partner)
    deliveries = [_new_delivery(endpoint, event) for endpoint in endpoints if endpoint.wants(event.type)]
    _queue_after_commit(deliveries)
    return deliveries


@transaction.atomic
def redeliver(*, delivery: WebhookDelivery) -> WebhookDelivery:
    """Send ``delivery``'s event to its endpoint again, as a new delivery (the history stays).

    Receivers see the same ``webhook-id`` (the event's id), so one that already processed it
    can ignore it. Refused when the endpoint is disabled.
    """
    endpoint = delivery.endpoint
    if not endpoint.enabled:
        raise WebhookEndpointDisabled()
    new_delivery = _new_delivery(endpoint, delivery.event)
    _queue_after_commit([new_delivery])
    return new_delivery


@transaction.atomic
def send_test_event(*, endpoint: WebhookEndpoint) -> WebhookDelivery:
    """Send a ``webhook.test`` event to ``endpoint`` only; returns its delivery.

    The event is created directly rather than published so the partner's other endpoints
    do not receive it; it still appears in the partner's event list.
    """
    if not endpoint.enabled:
        raise WebhookEndpointDisabled()
    event = PartnerEvent.objects.create(
        partner=endpoint.partner,
        type="webhook.test",
        payload={"endpoint": endpoint.public_id, "message": "This is a test event sent from the BigStock portal."},
    )
    delivery = _new_delivery(endpoint, event)
    _queue_after_commit([delivery])
    return delivery


def _new_delivery(endpoint: WebhookEndpoint, event: PartnerEvent) -> WebhookDelivery:
    return WebhookDelivery.objects.create(
        partner=endpoint.partner, endpoint=endpoint, event=event, next_attempt_at=timezone.now()
    )


def _queue_after_commit(deliveries: list[WebhookDelivery]) -> None:
    ids = [delivery.pk for delivery in deliveries]
    if ids:
        transaction.on_commit(lambda: _queue(ids))


def _queue(ids: list[int]) -> None:
    from .tasks import deliver_webhook  # tasks imports this module

    for delivery_id in ids:
        try:
            deliver_webhook.delay(delivery_id)
        except BrokerUnavailable:
            # The rows are committed and due: the sweep queues them once the broker is back.
            # Failing here would turn the caller's committed change into an error page.
            logger.warning("broker unavailable: %d webhook deliveries left to the sweep", len(ids))
            return


def sweep_due_deliveries(*, limit: int = SWEEP_BATCH) -> int:
    """Queue due pending deliveries that nobody is sending; returns how many were queued.

    Picks up retries whose time has come and deliveries whose message a broker lost. A due
    delivery already queued (``updated_at`` at or after ``next_attempt_at``) is queued again
    only after ``REDISPATCH_AFTER``, so a busy queue does not fill with duplicates.
    """
    now = timezone.now()
    due = _claimable(now).filter(Q(updated_at__lt=F("next_attempt_at")) | Q(updated_at__lt=now - REDISPATCH_AFTER))
    ids = list(due.order_by("next_attempt_at").values_list("pk", flat=True)[:limit])
    if ids:
        WebhookDelivery.objects.filter(pk__in=ids).update(updated_at=now)
        _queue(ids)
    return len(ids)


def _claimable(now):
    return WebhookDelivery.objects.filter(status=WebhookDelivery.Status.PENDING, next_attempt_at__lte=now).filter(
        Q(locked_until__isnull=True) | Q(locked_until__lt=now)
    )


# --- Deliveries: sending -------------------------------------------------------------------


@dataclass
class _Outcome:
    status_code: int | None = None
    response_body: str = ""
    error: str = ""
    duration_ms: int = 0

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300

    @property
    def retryable(self) -> bool:
        code = self.status_code
        return code is None or not 400 <= code < 500 or code in RETRYABLE_CLIENT_ERRORS


def deliver(*, delivery_id: int) -> WebhookDelivery | None:
    """Make one attempt of a due delivery; returns it, or None when there was nothing to do.

    The row is claimed with one conditional UPDATE (pending, due, not locked), so a duplicate
    task, a rerun or a concurrent worker never sends twice. The HTTP request runs outside any
    transaction (a slow receiver must not hold database locks); its outcome is recorded in one.
    A delivery whose endpoint was disabled meanwhile fails without an attempt: the partner
    can redeliver it after re-enabling, and ``GET /api/v1/events`` still lists the event.
    """
    now = timezone.now()
    claimed = _claimable(now).filter(pk=delivery_id).update(locked_until=now + LOCK_DURATION, updated_at=now)
    if not claimed:
        return None
    delivery = (
        WebhookDelivery.objects.select_related("endpoint", "event", "partner").filter(pk=delivery_id).first()
    )
    if delivery is None:  # deleted with its endpoint since the claim
        return None
    if not delivery.endpoint.enabled:
        delivery.status = WebhookDelivery.Status.FAILED
        delivery.next_attempt_at = None
        delivery.locked_until = None
        delivery.save(update_fields=["status", "next_attempt_at", "locked_until", "updated_at"])
        return delivery
    outcome = _send(delivery)
    return _record(delivery, outcome)


def sign(*, secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` header value: ``v1,`` + base64 HMAC-SHA256 of id.timestamp.body."""
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    signed = f"{msg_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


class _PinnedAddressAdapter(HTTPAdapter):
    """Connects to ``address`` (the one ``validate_url`` just checked) instead of resolving
    the host again, which an attacker's DNS could answer differently; TLS still sends and
    verifies the URL's host name (SNI and certificate)."""

    def __init__(self, *, address: str, hostname: str):
        self.address = address
        self.hostname = hostname
        super().__init__(max_retries=0)

    def build_connection_pool_key_attributes(self, request, verify, cert=None):
        host_params, pool_kwargs = super().build_connection_pool_key_attributes(request, verify, cert)
        host_params["host"] = self.address
        if host_params["scheme"] == "https":
            pool_kwargs["server_hostname"] = self.hostname
        return host_params, pool_kwargs


def _send(delivery: WebhookDelivery) -> _Outcome:
    """One signed POST of the delivery's event; never raises for what the network does."""
    endpoint, event = delivery.endpoint, delivery.event
    try:
        addresses = validate_url(endpoint.url)
    except WebhookUrlInvalid as exc:  # DNS changed since the URL was saved, or settings did
        return _Outcome(error=exc.message[:300])
    body = json.dumps(envelope(event), separators=(",", ":"), ensure_ascii=False).encode()
    timestamp = int(timezone.now().timestamp())
    parts = urlsplit(endpoint.url)
    headers = {
        # The adapter connects to an address: the Host header must still name the host.
        "Host": parts.netloc.rpartition("@")[2],
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "webhook-id": event.public_id,  # the same on every retry and redelivery: receivers dedupe on it
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(secret=endpoint.secret, msg_id=event.public_id, timestamp=timestamp, body=body),
    }
    started = time.monotonic()
    with requests.Session() as session:
        # No proxies or .netrc from the environment: they would bypass the address check or
        # hand our credentials to a partner's host.
        session.trust_env = False
        adapter = _PinnedAddressAdapter(address=addresses[0], hostname=parts.hostname)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        try:
            with session.post(
                endpoint.url, data=body, headers=headers, timeout=TIMEOUT_S, allow_redirects=False, stream=True
            ) as response:
                # Read at most the part we keep: a receiver cannot make us download a large body.
                chunk = next(response.iter_content(RESPONSE_BODY_LIMIT), b"")
        except requests.Timeout:
            return _Outcome(
                error=_("No answer within %(seconds)d seconds.") % {"seconds": TIMEOUT_S},
                duration_ms=_elapsed_ms(started),
            )
        except requests.RequestException as exc:
            return _Outcome(error=f"{type(exc).__name__}: {exc}"[:300], duration_ms=_elapsed_ms(started))
    return _Outcome(
        status_code=response.status_code,
        response_body=chunk[:RESPONSE_BODY_LIMIT].decode("utf-8", errors="replace"),
        duration_ms=_elapsed_ms(started),
    )


def _elapsed_ms(started: float) -> int:
    return round((time.monotonic() - started) * 1000)


def _record(delivery: WebhookDelivery, outcome: _Outcome) -> WebhookDelivery:
    """Store the attempt, decide what happens next, release the claim; email if disabled."""
    now = timezone.now()
    endpoint = delivery.endpoint
    email_reason = ""
    with transaction.atomic():
        WebhookAttempt.objects.create(
            delivery=delivery,
            status_code=outcome.status_code,
            duration_ms=outcome.duration_ms,
            response_body=outcome.response_body,
            error=outcome.error,
        )
        delivery.attempt_count += 1
        delivery.last_status_code = outcome.status_code
        delivery.locked_until = None
        delivery.next_attempt_at = None
        endpoints = WebhookEndpoint.objects.filter(pk=endpoint.pk)
        if outcome.succeeded:
            delivery.status = WebhookDelivery.Status.SUCCEEDED
            endpoints.filter(failing_since__isnull=False).update(failing_since=None)
            endpoint.failing_since = None
        else:
            endpoints.filter(failing_since__isnull=True).update(failing_since=now)
            endpoint.failing_since = failing_since = endpoint.failing_since or now
            disabled_reason = ""
            if outcome.status_code == 410:
                disabled_reason = "gone"  # Standard Webhooks: 410 Gone means the receiver unsubscribed
            elif now - failing_since >= DISABLE_AFTER:
                disabled_reason = "failing"
            if disabled_reason:
                # Conditional: when several deliveries fail together, one disables and emails.
                if endpoints.filter(enabled=True).update(enabled=False, disabled_reason=disabled_reason, updated_at=now):
                    email_reason = disabled_reason
                endpoint.enabled, endpoint.disabled_reason = False, disabled_reason
            if disabled_reason or not outcome.retryable or delivery.attempt_count > len(RETRY_DELAYS):
                delivery.status = WebhookDelivery.Status.FAILED
            else:
                delivery.next_attempt_at = now + RETRY_DELAYS[delivery.attempt_count - 1]
        delivery.save(
            update_fields=["status", "attempt_count", "last_status_code", "next_attempt_at", "locked_until", "updated_at"]
        )
    logger.info(
        "webhook attempt %s",
        delivery.status,
        extra={
            "partner": delivery.partner_id,
            "delivery": delivery.public_id,
            "attempt": delivery.attempt_count,
            "status_code": outcome.status_code,
            "duration_ms": outcome.duration_ms,
        },
    )
    if email_reason:
        logger.warning("webhook endpoint disabled", extra={"partner": delivery.partner_id, "endpoint": endpoint.public_id})
        _email_endpoint_disabled(endpoint, reason=email_reason)
    return delivery


def _email_endpoint_disabled(endpoint: WebhookEndpoint, *, reason: str) -> None:
    """Tell the partner's owners that ``endpoint`` no longer receives events, and why."""
    membership_model = apps.get_model("partners", "Membership")  # bigstock imports no app
    owners = list(
        membership_model.objects.filter(partner_id=endpoint.partner_id, role="owner", user__is_active=True)
        .values_list("user__email", flat=True)
    )
    if not owners:
        return
    parts = urlsplit(endpoint.url)
    context = {
        "partner": endpoint.partner,
        "url": parts._replace(netloc=parts.netloc.rpartition("@")[2]).geturl(),  # never a password
        "reason": WebhookEndpoint.DISABLED_REASONS[reason],  # written out in each language of the email
        "endpoint_url": settings.BIGSTOCK_SITE_URL + reverse("partners:webhook", args=[endpoint.public_id]),
    }
    subject, body = mail.bilingual("bigstock/email/webhook_disabled", context)
    send_mail(subject, body, None, owners)
