"""Outgoing webhooks: endpoints, URL safety, signed deliveries, retries, disabling.

Deliveries go to a real HTTP server on 127.0.0.1 (allowed by BIGSTOCK_WEBHOOKS_ALLOW_LOOPBACK);
DNS answers for made-up host names are the only thing faked.
"""

import base64
import itertools
import json
import socket
import threading
import time
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import time_machine
from django.core import mail
from django.db import transaction
from django.utils import timezone, translation
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from bigstock import events, tasks, webhooks
from bigstock.celery import BEAT_SCHEDULE
from bigstock.celery import app as celery_app
from bigstock.models import PartnerEvent, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from partners.models import Role
from tests.concurrency import run_together
from tests.factories import MembershipFactory, PartnerFactory

pytestmark = pytest.mark.django_db


# --- A receiver: a real HTTP server in a thread -----------------------------------------------


@dataclass
class Received:
    path: str
    headers: dict
    body: bytes


@dataclass
class Receiver:
    base_url: str = ""
    requests: list[Received] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)  # answered in order, then 200
    response_body: bytes = b'{"ok":true}'
    delay_s: float = 0

    def url(self, path: str = "/hook") -> str:
        return self.base_url + path

    def paths(self) -> list[str]:
        return [request.path for request in self.requests]


@pytest.fixture
def receiver(settings):
    settings.BIGSTOCK_WEBHOOKS_ALLOW_LOOPBACK = True
    state = Receiver()
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            with lock:
                state.requests.append(Received(self.path, dict(self.headers.items()), body))
                status = state.statuses.pop(0) if state.statuses else 200
            time.sleep(state.delay_s)
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(state.response_body)))
            self.end_headers()
            self.wfile.write(state.response_body)

        def log_message(self, format, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    state.base_url = f"http://127.0.0.1:{server.server_port}"
    yield state
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


@pytest.fixture
def fake_dns(monkeypatch):
    """Answers for made-up host names; ``answers[host]`` is a list of addresses, or a
    callable returning one; anything else goes to the real resolver."""
    answers: dict = {}
    real_getaddrinfo = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        if host not in answers:
            return real_getaddrinfo(host, port, *args, **kwargs)
        addresses = answers[host]() if callable(answers[host]) else answers[host]
        if not addresses:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [
            (socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port))
            for a in addresses
        ]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return answers


@pytest.fixture
def partner():
    return PartnerFactory()


def make_endpoint(partner, url, event_types=()):
    return webhooks.create_endpoint(partner=partner, url=url, description="ERP", event_types=list(event_types))


def publish(partner, type="member.added", data=None):
    return events.publish(partner=partner, type=type, data=data or {"email": "new@example.com"})


def sweep_later(delta: timedelta) -> None:
    """Run the beat's sweep as if ``delta`` had passed."""
    with time_machine.travel(timezone.now() + delta):
        tasks.sweep_webhook_deliveries.delay()


# --- Signed deliveries ---------------------------------------------------------------------


def test_receiver_gets_the_event_signed_per_standard_webhooks(partner, receiver, django_capture_on_commit_callbacks):
    endpoint, secret = make_endpoint(partner, receiver.url())
    with django_capture_on_commit_callbacks(execute=True):
        event = publish(partner, data={"email": "léa@example.com"})

    [request] = receiver.requests
    payload = Webhook(secret).verify(request.body, request.headers)
    assert payload == {
        "id": event.public_id,
        "type": "member.added",
        "created_at": event.created_at.isoformat().replace("+00:00", "Z"),
        "data": {"email": "léa@example.com"},
    }
    assert request.headers["webhook-id"] == event.public_id
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["User-Agent"] == "BigStock-Webhooks/1"
    delivery = WebhookDelivery.objects.get(endpoint=endpoint)
    assert delivery.status == WebhookDelivery.Status.SUCCEEDED
    assert delivery.last_status_code == 200
    [attempt] = delivery.attempts.all()
    assert (attempt.status_code, attempt.response_body, attempt.error) == (200, '{"ok":true}', "")


def test_a_signature_made_with_another_secret_is_rejected(partner, receiver, django_capture_on_commit_callbacks):
    make_endpoint(partner, receiver.url())
    with django_capture_on_commit_callbacks(execute=True):
        publish(partner)

    [request] = receiver.requests
    other_secret = "whsec_" + base64.b64encode(b"x" * 32).decode()
    with pytest.raises(WebhookVerificationError):
        Webhook(other_secret).verify(request.body, request.headers)


def test_only_the_first_kilobyte_of_the_answer_is_kept(partner, receiver, django_capture_on_commit_callbacks):
    receiver.response_body = b"x" * 5000
    make_endpoint(partner, receiver.url())
    with django_capture_on_commit_callbacks(execute=True):
        publish(partner)

    assert WebhookAttempt.objects.get().response_body == "x" * 1024


# --- Retries -------------------------------------------------------------------------------


def test_failed_delivery_is_retried_by_the_sweep_once_due(partner, receiver, django_capture_on_commit_callbacks):
    receiver.statuses = [500, 200]
    endpoint, _ = make_endpoint(partner, receiver.url())
    with django_capture_on_commit_callbacks(execute=True):
        publish(partner)

    delivery = WebhookDelivery.objects.get()
    assert delivery.status == WebhookDelivery.Status.PENDING
    assert delivery.next_attempt_at > timezone.now()
    assert delivery.attempts.get().status_code == 500
    endpoint.refresh_from_db()
    assert endpoint.failing_since is not None

    tasks.sweep_webhook_deliveries.delay()  # not due yet
    assert len(receiver.requests) == 1

    sweep_later(timedelta(seconds=10))

    delivery.refresh_from_db()
    endpoint.refresh_from_db()
    assert delivery.status == WebhookDelivery.Status.SUCCEEDED
    assert sorted(delivery.attempts.values_list("status_code", flat=True)) == [200, 500]
    assert endpoint.failing_since is None
    assert receiver.requests[0].headers["webhook-id"] == receiver.requests[1].headers["webhook-id"]


@pytest.mark.parametrize("status", [429, 408, 503])
def test_busy_or_broken_receiver_is_retried(status, partner, receiver, django_capture_on_commit_callbacks):
    receiver.statuses = [status]
    make_endpoint(partner, receiver.url())
    with django_capture_on_commit_callbacks(execute=True):
        publish(partner)
    assert WebhookDelivery.objects.get().status == WebhookDelivery.Status.PENDING

    sweep_later(timedelta(seconds=10))

    assert len(receiver.requests) == 2
    assert WebhookDelivery.objects.get().status == WebhookDelivery.Status.SUCCEEDED


def test_client_error_fails_for_good_without_retry(partner, receiver, django_capture_on_commit_callbacks):
    receiver.statuses = [400]
    endpoint, _ = make_endpoint(partner, receiver.url())
    with django_capture_on_commit_callbacks(execute=True):
        publish(partner)

    sweep_later(timedelta(hours=1))

    delivery = WebhookDelivery.objects.get()
    assert delivery.status == WebhookDelivery.Status.FAILED
    assert delivery.last_status_code == 400
    assert len(receiver.requests) == 1
    endpoint.refresh_from_db()
    assert endpoint.enabled


def test_410_gone_disables_the_endpoint_and_tells_the_owners(partner, receiver, django_capture_on_commit_callbacks):
    owner = MembershipFactory(partner=partner, role=Role.OWNER)
    MembershipFactory(partner=partner, role=Role.ADMIN)
    receiver.statuses = [410]
    endpoint, _ = make_endpoint(partner, receiver.url())
    with django_capture_on_commit_callbacks(execute=True):
        publish(partner)

    sweep_later(timedelta(hours=1))

    assert WebhookDelivery.objects.get().status == WebhookDelivery.Status.FAILED
    assert len(receiver.requests) == 1
    endpoint.refresh_from_db()
    assert not endpoint.enabled
    with translation.override("en"):  # kept as a code, read in the reader's language
        assert endpoint.disabled_reason_text == "The endpoint answered 410 Gone: it no longer accepts webhooks."
    with translation.override("fr"):
        assert "410" in endpoint.disabled_reason_text and endpoint.disabled_reason_text.startswith("Le point")
    [email] = mail.outbox
    assert email.to == [owner.user.email]
    assert receiver.url() in email.body
    french, english = email.body.split("\n----------\n")  # as every email to partners: French, then English
    assert "410" in french and "Motif :" in french
    assert "The endpoint answered 410 Gone: it no longer accepts webhooks." in english and "Reason:" in english


def test_network_error_is_recorded_and_retried(partner, settings, django_capture_on_commit_callbacks):
    settings.BIGSTOCK_WEBHOOKS_ALLOW_LOOPBACK = True
    with socket.socket() as closed:  # a port nobody listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    make_endpoint(partner, f"http://127.0.0.1:{port}/hook")
    with django_capture_on_commit_callbacks(execute=True):
        publish(partner)

    delivery = WebhookDelivery.objects.get()
    attempt = delivery.attempts.get()
    assert attempt.status_code is None
    assert "ConnectionError" in attempt.error
    assert delivery.status == WebhookDelivery.Status.PENDING
    assert delivery.next_attempt_at > timezone.now()


def test_retries_follow_the_schedule_for_about_a_day_then_stop(partner, receiver, django_capture_on_commit_callbacks):
    receiver.statuses = [500] * 20
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        make_endpoint(partner, receiver.url())
        with django_capture_on_commit_callbacks(execute=True):
            publish(partner)
    delivery = WebhookDelivery.objects.get()
    while delivery.status == WebhookDelivery.Status.PENDING:
        with time_machine.travel(delivery.next_attempt_at + timedelta(seconds=1), tick=False):
            tasks.sweep_webhook_deliveries.delay()
        delivery.refresh_from_db()

    attempted_at = sorted(delivery.attempts.values_list("attempted_at", flat=True))
    waits = [later - earlier for earlier, later in itertools.pairwise(attempted_at)]
    assert [round(wait.total_seconds()) for wait in waits] == [6, 301, 1801, 7201, 18001, 36001, 36001]
    assert timedelta(hours=24) < attempted_at[-1] - start < timedelta(hours=30)
    assert delivery.status == WebhookDelivery.Status.FAILED
    assert len(receiver.requests) == 8


def test_endpoint_failing_for_a_day_is_disabled_and_owners_are_emailed(
    partner, receiver, django_capture_on_commit_callbacks
):
    owners = [MembershipFactory(partner=partner, role=Role.OWNER) for _ in range(2)]
    MembershipFactory(partner=partner, role=Role.MEMBER)
    receiver.statuses = [500] * 20
    endpoint, _ = make_endpoint(partner, receiver.url())
    with django_capture_on_commit_callbacks(execute=True):
        publish(partner)

    sweep_later(timedelta(hours=23))
    endpoint.refresh_from_db()
    assert endpoint.enabled
    assert mail.outbox == []

    later = timezone.now() + timedelta(hours=25)
    with time_machine.travel(later), django_capture_on_commit_callbacks(execute=True):
        publish(partner, type="member.removed")

    endpoint.refresh_from_db()
    assert not endpoint.enabled
    assert endpoint.disabled_reason
    [email] = mail.outbox
    assert sorted(email.to) == sorted(owner.user.email for owner in owners)
    assert endpoint.public_id in email.body  # the link to the endpoint's page
    # Deliveries still pending stop too, without another request.
    requests_before = len(receiver.requests)
    sweep_later(timedelta(days=3))
    assert len(receiver.requests) == requests_before
    assert not WebhookDelivery.objects.filter(status=WebhookDelivery.Status.PENDING).exists()


def test_reenabling_an_endpoint_clears_its_failure_state(partner, receiver, django_capture_on_commit_callbacks):
    receiver.statuses = [410]
    endpoint, _ = make_endpoint(partner, receiver.url())
    with django_capture_on_commit_callbacks(execute=True):
        publish(partner)
    endpoint.refresh_from_db()
    assert not endpoint.enabled

    webhooks.update_endpoint(endpoint=endpoint, enabled=True)

    endpoint.refresh_from_db()
    assert (endpoint.enabled, endpoint.failing_since, endpoint.disabled_reason) == (True, None, "")
    with django_capture_on_commit_callbacks(execute=True):
        publish(partner)
    assert len(receiver.requests) == 2


# --- Exactly one send per attempt ------------------------------------------------------------


def test_delivering_the_same_delivery_twice_sends_once(partner, receiver):
    make_endpoint(partner, receiver.url())
    publish(partner)  # not committed in this test: nothing queued yet
    delivery = WebhookDelivery.objects.get()

    webhooks.deliver(delivery_id=delivery.pk)
    webhooks.deliver(delivery_id=delivery.pk)
    tasks.deliver_webhook.delay(delivery.pk)

    assert len(receiver.requests) == 1
    assert delivery.attempts.count() == 1


def test_a_delivery_another_worker_is_sending_is_left_alone(partner, receiver):
    make_endpoint(partner, receiver.url())
    publish(partner)
    delivery = WebhookDelivery.objects.get()
    WebhookDelivery.objects.filter(pk=delivery.pk).update(locked_until=timezone.now() + timedelta(seconds=30))

    webhooks.deliver(delivery_id=delivery.pk)
    tasks.sweep_webhook_deliveries.delay()
    assert receiver.requests == []

    sweep_later(timedelta(minutes=5))  # that worker died: its claim expired
    assert len(receiver.requests) == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_workers_send_a_delivery_once(requires_postgres, partner, receiver):
    receiver.delay_s = 0.2
    endpoint, _ = make_endpoint(partner, receiver.url())
    # A due delivery, not queued (publish would send it at once here: no test transaction).
    event = PartnerEvent.objects.create(partner=partner, type="member.added", payload={})
    delivery = WebhookDelivery.objects.create(
        partner=partner, endpoint=endpoint, event=event, next_attempt_at=timezone.now()
    )
    run_together(lambda _index: webhooks.deliver(delivery_id=delivery.pk), range(4), timeout=10)

    assert len(receiver.requests) == 1
    assert WebhookAttempt.objects.filter(delivery=delivery).count() == 1


def test_a_lost_broker_message_is_sent_by_the_sweep(partner, receiver):
    make_endpoint(partner, receiver.url())
    publish(partner)  # the on_commit task is never run: as if the broker lost it

    tasks.sweep_webhook_deliveries.delay()
    assert receiver.requests == []  # just queued: not sent twice while the queue is busy

    sweep_later(timedelta(minutes=3))
    assert len(receiver.requests) == 1
    assert WebhookDelivery.objects.get().status == WebhookDelivery.Status.SUCCEEDED


# --- Who receives what ----------------------------------------------------------------------


def test_only_enabled_endpoints_subscribed_to_the_event_type_get_it(
    partner, receiver, django_capture_on_commit_callbacks
):
    make_endpoint(partner, receiver.url("/members"), ["member.added", "member.removed"])
    make_endpoint(partner, receiver.url("/everything"))
    make_endpoint(partner, receiver.url("/profile"), ["partner.updated"])
    disabled, _ = make_endpoint(partner, receiver.url("/disabled"))
    webhooks.update_endpoint(endpoint=disabled, enabled=False)
    make_endpoint(PartnerFactory(), receiver.url("/other-partner"))

    with django_capture_on_commit_callbacks(execute=True):
        publish(partner, type="member.added")

    assert sorted(receiver.paths()) == ["/everything", "/members"]


def test_a_rolled_back_change_emits_no_event_and_sends_nothing(
    partner, receiver, django_capture_on_commit_callbacks
):
    make_endpoint(partner, receiver.url())

    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError), transaction.atomic():
        publish(partner)
        raise RuntimeError("the change failed")

    assert not PartnerEvent.objects.exists()
    assert not WebhookDelivery.objects.exists()
    assert receiver.requests == []


def test_redeliver_sends_the_event_again_as_a_new_delivery(partner, receiver, django_capture_on_commit_callbacks):
    make_endpoint(partner, receiver.url())
    with django_capture_on_commit_callbacks(execute=True):
        publish(partner)
    first = WebhookDelivery.objects.get()

    with django_capture_on_commit_callbacks(execute=True):
        second = webhooks.redeliver(delivery=first)

    second.refresh_from_db()
    assert second.pk != first.pk
    assert second.event_id == first.event_id
    assert second.status == WebhookDelivery.Status.SUCCEEDED
    assert first.attempts.count() == second.attempts.count() == 1
    assert len(receiver.requests) == 2
    assert receiver.requests[0].body == receiver.requests[1].body


def test_redeliver_to_a_disabled_endpoint_is_refused(partner, receiver):
    endpoint, _ = make_endpoint(partner, receiver.url())
    publish(partner)
    webhooks.update_endpoint(endpoint=endpoint, enabled=False)

    with pytest.raises(webhooks.WebhookEndpointDisabled) as error:
        webhooks.redeliver(delivery=WebhookDelivery.objects.get())
    assert error.value.code == "webhook_endpoint_disabled"
    assert WebhookDelivery.objects.count() == 1


def test_a_delivery_whose_endpoint_was_disabled_meanwhile_fails_without_a_request(partner, receiver):
    endpoint, _ = make_endpoint(partner, receiver.url())
    publish(partner)
    webhooks.update_endpoint(endpoint=endpoint, enabled=False)

    tasks.deliver_webhook.delay(WebhookDelivery.objects.get().pk)

    assert WebhookDelivery.objects.get().status == WebhookDelivery.Status.FAILED
    assert receiver.requests == []
    assert not WebhookAttempt.objects.exists()


def test_test_event_reaches_only_the_chosen_endpoint(partner, receiver, django_capture_on_commit_callbacks):
    chosen, secret = make_endpoint(partner, receiver.url("/chosen"))
    make_endpoint(partner, receiver.url("/other"))

    with django_capture_on_commit_callbacks(execute=True):
        delivery = webhooks.send_test_event(endpoint=chosen)

    assert receiver.paths() == ["/chosen"]
    payload = Webhook(secret).verify(receiver.requests[0].body, receiver.requests[0].headers)
    assert payload["type"] == "webhook.test"
    delivery.refresh_from_db()
    assert delivery.status == WebhookDelivery.Status.SUCCEEDED


# --- URL safety -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("https://10.0.0.1/hook", "private address 10.0.0.1"),
        ("https://192.168.1.20/hook", "private address 192.168.1.20"),
        ("https://169.254.169.254/latest/meta-data", "link-local address 169.254.169.254"),
        ("https://127.0.0.1/hook", "loopback address 127.0.0.1"),
        ("https://[::1]/hook", "loopback address ::1"),
        ("https://localhost/hook", "loopback address"),
        ("https://[fd12:3456::1]/hook", "private address fd12:3456::1"),
        ("https://[fe80::1]/hook", "link-local address fe80::1"),
        ("https://[::ffff:10.0.0.1]/hook", "private address ::ffff:a00:1 (10.0.0.1)"),
        ("https://224.0.0.1/hook", "multicast address 224.0.0.1"),
        ("https://0.0.0.0/hook", "unspecified address 0.0.0.0"),
        ("https://100.64.0.1/hook", "reserved address 100.64.0.1"),
    ],
)
def test_internal_addresses_are_refused_with_the_reason(url, reason, partner):
    with pytest.raises(webhooks.WebhookUrlPrivate) as error:
        make_endpoint(partner, url)
    assert error.value.code == "webhook_url_private"
    assert reason in error.value.message
    assert error.value.fields == {"url": [error.value.message]}
    assert not WebhookEndpoint.objects.exists()


def test_a_host_with_any_private_address_is_refused(partner, fake_dns):
    fake_dns["hooks.partner.example"] = ["93.184.215.14", "10.0.0.5"]
    with pytest.raises(webhooks.WebhookUrlPrivate, match=r"10\.0\.0\.5"):
        make_endpoint(partner, "https://hooks.partner.example/hook")


def test_a_host_that_cannot_be_resolved_is_refused(partner, fake_dns):
    fake_dns["gone.partner.example"] = []
    with pytest.raises(webhooks.WebhookUrlUnresolvable) as error:
        make_endpoint(partner, "https://gone.partner.example/hook")
    assert error.value.code == "webhook_url_unresolvable"
    assert "gone.partner.example" in error.value.message


@pytest.mark.parametrize("url", ["ftp://93.184.215.14/hook", "https://", "not a url", "https://exa mple.com/"])
def test_malformed_urls_are_refused(url, partner):
    with pytest.raises(webhooks.WebhookUrlInvalid) as error:
        make_endpoint(partner, url)
    assert error.value.code == "webhook_url_invalid"


def test_http_is_refused_unless_debug(partner, settings):
    settings.DEBUG = False
    with pytest.raises(webhooks.WebhookUrlInsecure) as error:
        make_endpoint(partner, "http://93.184.215.14/hook")
    assert error.value.code == "webhook_url_insecure"
    assert "https" in error.value.message

    settings.DEBUG = True
    endpoint, _ = make_endpoint(partner, "http://93.184.215.14/hook")
    assert endpoint.url == "http://93.184.215.14/hook"


def test_the_loopback_setting_allows_loopback_only(partner, settings):
    settings.DEBUG = False
    settings.BIGSTOCK_WEBHOOKS_ALLOW_LOOPBACK = True

    assert make_endpoint(partner, "http://127.0.0.1:8080/hook")[0].pk
    assert make_endpoint(partner, "https://[::1]/hook")[0].pk
    with pytest.raises(webhooks.WebhookUrlPrivate):
        make_endpoint(partner, "https://10.0.0.1/hook")
    with pytest.raises(webhooks.WebhookUrlInsecure):
        make_endpoint(partner, "http://93.184.215.14/hook")


def test_dns_rebinding_to_a_private_address_is_caught_at_send_time(
    partner, receiver, fake_dns, django_capture_on_commit_callbacks
):
    fake_dns["hooks.partner.example"] = ["93.184.215.14"]
    make_endpoint(partner, "https://hooks.partner.example/hook")
    fake_dns["hooks.partner.example"] = ["10.0.0.5"]

    with django_capture_on_commit_callbacks(execute=True):
        publish(partner)

    delivery = WebhookDelivery.objects.get()
    assert "private address 10.0.0.5" in delivery.attempts.get().error
    assert delivery.status == WebhookDelivery.Status.PENDING  # DNS may be fixed: retried later


def test_the_request_goes_to_the_address_that_was_checked(
    partner, receiver, fake_dns, django_capture_on_commit_callbacks
):
    port = receiver.base_url.rsplit(":", 1)[1]
    answers = iter([["127.0.0.1"], ["127.0.0.1"]])  # saving, then sending; a third lookup fails
    fake_dns["hooks.partner.example"] = lambda: next(answers, [])
    make_endpoint(partner, f"http://hooks.partner.example:{port}/hook")

    with django_capture_on_commit_callbacks(execute=True):
        publish(partner)

    [request] = receiver.requests
    assert request.headers["Host"] == f"hooks.partner.example:{port}"
    assert WebhookDelivery.objects.get().status == WebhookDelivery.Status.SUCCEEDED


# --- Endpoints ------------------------------------------------------------------------------


def test_new_endpoint_secret_is_a_standard_webhooks_secret_shown_once(partner, receiver):
    endpoint, secret = make_endpoint(partner, receiver.url(), ["member.added", "member.added"])

    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"))) >= 24
    assert endpoint.secret == secret
    assert endpoint.event_types == ["member.added"]
    assert endpoint.enabled
    _other_endpoint, other_secret = make_endpoint(partner, receiver.url())
    assert other_secret != secret


def test_unknown_event_types_are_refused(partner, receiver):
    with pytest.raises(webhooks.WebhookEventTypeUnknown) as error:
        make_endpoint(partner, receiver.url(), ["member.added", "order.teleported"])
    assert "order.teleported" in error.value.fields["event_types"][0]


def test_update_endpoint_checks_what_changes(partner, receiver):
    endpoint, _ = make_endpoint(partner, receiver.url())

    webhooks.update_endpoint(
        endpoint=endpoint, url=receiver.url("/v2"), description="Shop", event_types=["partner.updated"]
    )
    endpoint.refresh_from_db()
    assert (endpoint.url, endpoint.description, endpoint.event_types) == (
        receiver.url("/v2"), "Shop", ["partner.updated"]
    )
    with pytest.raises(webhooks.WebhookUrlPrivate):
        webhooks.update_endpoint(endpoint=endpoint, url="https://10.1.2.3/")
    with pytest.raises(webhooks.WebhookEventTypeUnknown):
        webhooks.update_endpoint(endpoint=endpoint, event_types=["nope"])
    with pytest.raises(TypeError):
        webhooks.update_endpoint(endpoint=endpoint, secret="whsec_mine")
    endpoint.refresh_from_db()
    assert endpoint.url == receiver.url("/v2")


def test_rotated_secret_signs_the_next_deliveries(partner, receiver, django_capture_on_commit_callbacks):
    endpoint, old_secret = make_endpoint(partner, receiver.url())
    new_secret = webhooks.rotate_secret(endpoint=endpoint)
    assert new_secret != old_secret

    with django_capture_on_commit_callbacks(execute=True):
        publish(partner)

    request = receiver.requests[0]
    assert Webhook(new_secret).verify(request.body, request.headers)["type"] == "member.added"


def test_deleting_an_endpoint_deletes_its_deliveries(partner, receiver):
    endpoint, _ = make_endpoint(partner, receiver.url())
    publish(partner)
    delivery = WebhookDelivery.objects.get()

    webhooks.delete_endpoint(endpoint=endpoint)

    assert not WebhookEndpoint.objects.exists()
    assert not WebhookDelivery.objects.exists()
    assert PartnerEvent.objects.exists()  # the event stays in the partner's event list
    assert webhooks.deliver(delivery_id=delivery.pk) is None  # a queued task finds nothing


# --- Queues and schedule ----------------------------------------------------------------------


def test_webhook_tasks_run_on_the_webhooks_queue_and_the_sweep_is_scheduled():
    router = celery_app.amqp.router
    assert router.route({}, "bigstock.tasks.deliver_webhook")["queue"].name == "webhooks"
    assert router.route({}, "bigstock.tasks.sweep_webhook_deliveries")["queue"].name == "webhooks"
    [entry] = [e for e in BEAT_SCHEDULE.values() if e["task"] == "bigstock.tasks.sweep_webhook_deliveries"]
    assert entry["schedule"] <= 60


def test_the_sent_body_is_compact_json(partner, receiver, django_capture_on_commit_callbacks):
    make_endpoint(partner, receiver.url())
    with django_capture_on_commit_callbacks(execute=True):
        publish(partner)
    body = receiver.requests[0].body
    assert body == json.dumps(json.loads(body), separators=(",", ":"), ensure_ascii=False).encode()


def test_a_reason_stored_as_text_before_reasons_were_codes_reads_as_it_was_written():
    assert WebhookEndpoint(disabled_reason="Ancienne raison").disabled_reason_text == "Ancienne raison"
    assert WebhookEndpoint(disabled_reason="").disabled_reason_text == ""
