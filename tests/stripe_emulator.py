"""localstripe, the stateful Stripe emulator, for tests: started once per session on 127.0.0.1
in a background thread, emptied before each test.

``localstripe``'s own command binds every interface and pickles its store to
``/tmp/localstripe.pickle`` after each change; here its aiohttp app is served on loopback only,
on a free port, and the store stays in memory. It also delivers webhooks, signed like Stripe's:
they go to an inbox added to the same server, from which a test takes them and posts them to
BigStock's endpoint as they were sent (body and ``Stripe-Signature`` untouched).

Use in a test module: ``from tests.stripe_emulator import stripe_emulator  # noqa: F401``.
"""

import asyncio
import json
import logging
import threading
import time
import warnings
from dataclasses import dataclass, field

import pytest
import requests

WEBHOOK_SECRET = "whsec_emulator_test_secret"


@dataclass
class Delivery:
    """A webhook as the emulator sent it."""

    body: bytes
    signature: str

    @property
    def event(self) -> dict:
        return json.loads(self.body)


@dataclass
class Emulator:
    api_base: str
    inbox: list[Delivery] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def reset(self) -> None:
        """Forget every object and delivery; send webhooks to the inbox again."""
        from localstripe import webhooks

        requests.delete(f"{self.api_base}/_config/data", timeout=5).raise_for_status()
        webhooks._webhooks.clear()
        with self.lock:
            self.inbox.clear()
        requests.post(f"{self.api_base}/_config/webhooks/inbox", timeout=5,
                      data={"url": f"{self.api_base}/_config/inbox", "secret": WEBHOOK_SECRET}).raise_for_status()

    def send_webhooks_to(self, url: str) -> None:
        """Also deliver every webhook to ``url`` (a live server), as Stripe would."""
        requests.post(f"{self.api_base}/_config/webhooks/live", timeout=5,
                      data={"url": url, "secret": WEBHOOK_SECRET}).raise_for_status()

    def deliveries(self, type: str) -> list[Delivery]:
        with self.lock:
            return [delivery for delivery in self.inbox if delivery.event["type"] == type]

    def wait_for(self, type: str, *, count: int = 1, timeout_s: float = 10) -> list[Delivery]:
        """The first ``count`` webhooks of ``type`` (the emulator sends them about a second later)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            found = self.deliveries(type)
            if len(found) >= count:
                return found[:count]
            time.sleep(0.05)
        raise AssertionError(f"the emulator sent no {type} webhook within {timeout_s} s")

    def confirm_setup(self, client_secret: str, payment_method_data: dict) -> dict:
        """What Stripe.js does in the browser: confirm a SetupIntent with the publishable key."""
        setup_intent_id = client_secret.split("_secret_")[0]
        url = f"{self.api_base}/v1/setup_intents/{setup_intent_id}/confirm"
        answer = requests.post(url, timeout=5, json={
            "key": "pk_test_emulator", "client_secret": client_secret, "payment_method_data": payment_method_data,
        }).json()
        if answer.get("status") == "requires_action":  # 3-D Secure: the cardholder completes it
            answer = requests.post(url, timeout=5, json={"key": "pk_test_emulator", "client_secret": client_secret}).json()
        return answer

    def authenticate(self, client_secret: str, *, success: bool = True) -> dict:
        """What Stripe.js does when the cardholder confirms (or fails) 3-D Secure."""
        payment_intent_id = client_secret.split("_secret_")[0]
        response = requests.post(f"{self.api_base}/v1/payment_intents/{payment_intent_id}/_authenticate",
                                 params={"success": "true" if success else "false"}, timeout=5,
                                 json={"key": "pk_test_emulator", "client_secret": client_secret})
        return response.json()

    def get(self, path: str) -> dict:
        """Read an object straight from the emulator (what Stripe holds), e.g. ``/v1/customers``."""
        response = requests.get(f"{self.api_base}{path}", auth=("sk_test_emulator", ""), timeout=5)
        response.raise_for_status()
        return response.json()

    def delete(self, path: str) -> dict:
        response = requests.delete(f"{self.api_base}{path}", auth=("sk_test_emulator", ""), timeout=5)
        response.raise_for_status()
        return response.json()

    def post(self, path: str, data: dict) -> dict:
        response = requests.post(f"{self.api_base}{path}", auth=("sk_test_emulator", ""), data=data, timeout=5)
        response.raise_for_status()
        return response.json()


def _serve(started: threading.Event, box: dict) -> None:
    from aiohttp import web
    from localstripe import resources, server

    resources.Store.dump_to_disk = lambda self: None  # keep the store in memory only
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)  # one line per webhook sent otherwise
    emulator: Emulator | None = None

    async def inbox(request):
        body = await request.read()
        if f"event:{json.loads(body)['id']}" not in resources.store:
            # Sent about a second after its event: an earlier test's, arriving after ``reset`` emptied
            # the store. Kept, it would be taken for this test's webhook of the same type.
            return web.Response()
        with emulator.lock:
            emulator.inbox.append(Delivery(body=body, signature=request.headers.get("Stripe-Signature", "")))
        return web.Response()

    server.app.router.add_post("/_config/inbox", inbox)  # /_config/ needs no API key
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    runner = web.AppRunner(server.app, access_log=None)
    loop.run_until_complete(runner.setup())
    site = web.TCPSite(runner, "127.0.0.1", 0)
    loop.run_until_complete(site.start())
    port = site._server.sockets[0].getsockname()[1]
    emulator = box["emulator"] = Emulator(api_base=f"http://127.0.0.1:{port}")
    started.set()
    loop.run_forever()


_server: Emulator | None = None


def _start_once() -> Emulator:
    """One emulator per test process, started on first use."""
    global _server
    if _server is None:
        with warnings.catch_warnings():  # its handlers are plain functions, which aiohttp deprecates
            warnings.simplefilter("ignore", DeprecationWarning)
            import localstripe.server  # noqa: F401
        started, box = threading.Event(), {}
        threading.Thread(target=_serve, args=(started, box), name="localstripe", daemon=True).start()
        if not started.wait(timeout=10):
            raise RuntimeError("localstripe did not start")
        _server = box["emulator"]
    return _server


@pytest.fixture
def stripe_emulator(settings) -> Emulator:
    """An empty emulator, and BigStock's Stripe settings pointing at it (the rail is enabled)."""
    emulator = _start_once()
    emulator.reset()
    settings.STRIPE_SECRET_KEY = "sk_test_emulator"
    settings.STRIPE_PUBLISHABLE_KEY = "pk_test_emulator"
    settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
    settings.STRIPE_API_BASE = emulator.api_base
    settings.STRIPE_JS_URL = f"{emulator.api_base}/js.stripe.com/v3/"
    settings.STRIPE_TIMEOUT_S = 5
    return emulator
