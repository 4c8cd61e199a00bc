"""Tenant isolation: partner B never reaches partner A's objects, through any route.

The URL resolver is walked for every partner-facing route of the portal and the API. Partner
A gets one object of every kind; partner B, signed in as its owner or calling with its API
key, then requests A's objects on every route and with every method the route accepts:

* a route with object kwargs needs an entry in ``CASES`` (how to build the kwargs from A's
  world); B must get 404, never 403 or 200, and A's rows must be unchanged afterwards;
* a route without kwargs (a list, a form, a button) is read by B and must not show any of
  A's ids, emails or URLs; ``NAMED_IN_REQUEST`` adds the routes that take an object in the
  body or the query (``email=``, ``partner=``, ``after=``): naming A's object there is refused;
* the portal ignores API keys: B's key on a portal route is sent to the login page.

A new route fails ``test_every_partner_facing_route_has_an_isolation_case`` until it has a case
here, or is listed in ``NOT_PARTNER_SCOPED`` with the reason.
"""

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from urllib.parse import urlencode

import pytest
from django.apps import apps
from django.core.cache import cache
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from bigstock import api as bigstock_api
from bigstock.models import PartnerEvent, WebhookAttempt
from bigstock.money import format_cents
from inventory.services import price_for
from orders import services as orders
from orders.models import OrderImport
from partners import audit
from partners.models import Partner, Role, User
from subscriptions import services as billing
from tests.factories import (
    SHIP_TO,
    InvitationFactory,
    MembershipFactory,
    PartnerFactory,
    PlanFactory,
    WarehouseFactory,
    WebhookAttemptFactory,
    WebhookDeliveryFactory,
    WebhookEndpointFactory,
    make_api_key,
    make_product,
)
from tests.support.world import add_support_objects

pytestmark = pytest.mark.django_db

# --- Which routes -----------------------------------------------------------------------------

# Not partner-facing: staff, authentication, language, documentation, probes, static files.
# The warehouse API (api/v1/staff/) is for BigStock's staff: partners' keys and sessions are refused there
# (tests/inventory/test_staff_api.py).
EXCLUDED_PREFIXES = ("admin/", "accounts/", "i18n/", "static/", "media/", "api/v1/schema/", "api/v1/docs/",
                     "api/v1/staff/", "healthz", "readyz")
EXCLUDED_NAMES = {"api:root"}

# Routes reached without being a partner, each with the reason.
NOT_PARTNER_SCOPED = {
    "partners:invitation": "public by its secret token: whoever holds the link may accept it (tested in "
                           "tests/partners/test_views_team.py); no partner is calling",
    "subscriptions:change_plan": "its kwarg is a plan, a public offer no partner owns; the change applies to the "
                                 "caller's own subscription (tested in tests/subscriptions/test_views.py)",
    "support:inbound_email": "the mail relay's endpoint, authenticated by its own secret; the ticket comes from "
                             "the signed reply address (tested in tests/support/test_inbound.py)",
    # The stock feed: the catalogue and the stock are BigStock's, the same for every partner; only the
    # price differs, computed from the caller's own plan (tests/inventory/test_api.py checks that one
    # partner's price never shows in another's response). The downloads stream, which the page walk
    # below cannot read.
    "api:product-detail": "its kwarg is a SKU of BigStock's catalogue, which no partner owns; the price shown "
                          "is the caller's own",
    "api:stock-export-csv": "BigStock's catalogue, streamed, with the caller's own prices",
    "api:stock-export-json": "BigStock's catalogue, streamed, with the caller's own prices",
    "inventory:product": "its kwarg is a product of BigStock's catalogue, the same for every partner; only the "
                         "price differs, and each partner sees its own "
                         "(test_the_shared_catalogue_shows_each_partner_only_its_own_price)",
}

WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")


@dataclass(frozen=True)
class Route:
    name: str  # "api:webhook-endpoint-detail", "partners:webhook"
    pattern: str  # for messages: "api/v1/^webhook-endpoints/(?P<id>[^/.]+)$"
    kwargs: tuple[str, ...]
    methods: frozenset[str] | None  # None: a function view, which methods it takes is unknown

    @property
    def is_api(self) -> bool:
        return self.pattern.startswith("api/")

    def __str__(self) -> str:
        return self.name


def _methods(callback) -> frozenset[str] | None:
    if getattr(callback, "actions", None):  # a DRF viewset route: method -> action
        return frozenset(method.upper() for method in callback.actions)
    view_class = getattr(callback, "view_class", None) or getattr(callback, "cls", None)
    if view_class is None:
        return None
    return frozenset(
        method.upper() for method in view_class.http_method_names
        if method not in ("options", "head") and hasattr(view_class, method)
    )


def _walk(patterns, prefix="", namespace="", kwargs=()):
    for entry in patterns:
        pattern = prefix + str(entry.pattern)
        names = (*kwargs, *entry.pattern.regex.groupindex)
        if isinstance(entry, URLResolver):
            inner = ":".join(filter(None, [namespace, entry.namespace]))
            yield from _walk(entry.url_patterns, pattern, inner, names)
        elif isinstance(entry, URLPattern):
            yield pattern, namespace, entry, names


def partner_facing_routes() -> list[Route]:
    routes = {}
    for pattern, namespace, entry, kwargs in _walk(get_resolver().url_patterns):
        if pattern.startswith(EXCLUDED_PREFIXES) or entry.callback is bigstock_api.api_not_found:
            continue
        name = f"{namespace}:{entry.name}" if namespace and entry.name else entry.name or pattern
        if name in EXCLUDED_NAMES:
            continue
        routes.setdefault(name, Route(name, pattern, tuple(dict.fromkeys(kwargs)), _methods(entry.callback)))
    return sorted(routes.values(), key=lambda route: route.name)


ROUTES = partner_facing_routes()
OBJECT_ROUTES = [route for route in ROUTES if route.kwargs and route.name not in NOT_PARTNER_SCOPED]
PAGE_ROUTES = [route for route in ROUTES if not route.kwargs and route.name not in NOT_PARTNER_SCOPED]


# --- A partner's world: one object of every kind ----------------------------------------------


@dataclass
class World:
    partner: Partner
    owner: object
    member: object
    key: object
    secret: str
    endpoint: object
    delivery: object
    invitation: object
    extra: dict = field(default_factory=dict)  # for new kinds of objects: add them in build_world

    @property
    def event(self) -> PartnerEvent:
        return self.delivery.event


def build_world() -> World:
    partner = PartnerFactory()
    owner = MembershipFactory(partner=partner, role=Role.OWNER)
    key, secret = make_api_key(partner, created_by=owner, name=f"ERP of {partner.public_id}")
    endpoint = WebhookEndpointFactory(partner=partner)
    delivery = WebhookDeliveryFactory(endpoint=endpoint)
    WebhookAttemptFactory(delivery=delivery)
    audit.record(actor=audit.Actor(user=owner.user), action="partner.updated", partner=partner, target=partner)
    subscription = billing.subscribe(partner=partner, plan=PlanFactory(), actor=audit.SYSTEM)
    invoice = subscription.invoices.get()
    credit_note = billing.issue_credit_note(invoice=invoice, subtotal_cents=100, reason="goodwill",
                                            description="Geste commercial", actor=audit.SYSTEM)
    # Settled: the event feed lists events a few seconds after they happen.
    # Orders: one on hold (a wrong postcode: its address may be fixed), and a CSV import.
    product = make_product(stock={WarehouseFactory(code="lyon"): 50})
    order = orders.submit_order(partner=partner, reference="HELD-1", ship_to={**SHIP_TO, "postcode": "690"},
                                lines=[orders.LineIn(product.sku, 1)], actor=audit.SYSTEM)
    orders.process_order(order_id=order.pk)
    order_import = OrderImport.objects.create(partner=partner, filename="orders.csv")
    PartnerEvent.objects.filter(partner=partner).update(created_at=delivery.event.created_at - timedelta(minutes=5))
    world = World(
        partner=partner, owner=owner, member=MembershipFactory(partner=partner, role=Role.MEMBER), key=key,
        secret=secret, endpoint=endpoint, delivery=delivery,
        invitation=InvitationFactory(partner=partner, invited_by=owner.user),
        extra={"invoice": invoice, "credit_note": credit_note, "order": order, "order_import": order_import},
    )
    add_support_objects(world)  # support: a ticket about an order, a file, a staff note with a file
    return world


@dataclass(frozen=True)
class Case:
    """How to aim a route at A's object: URL kwargs, and the body a write would send."""

    kwargs: Callable[[World], dict] = lambda world: {}
    data: Callable[[World], dict] = lambda world: {}
    query: Callable[[World], dict] = lambda world: {}


# Route name -> how to aim it at partner A's object. Every route with kwargs needs one.
CASES: dict[str, Case] = {
    # API
    "api:event-detail": Case(kwargs=lambda a: {"id": a.event.public_id}),
    "api:webhook-endpoint-detail": Case(
        kwargs=lambda a: {"id": a.endpoint.public_id},
        data=lambda a: {"description": "taken over", "enabled": False},
    ),
    "api:webhook-endpoint-test": Case(kwargs=lambda a: {"id": a.endpoint.public_id}),
    "api:webhook-endpoint-deliveries": Case(kwargs=lambda a: {"id": a.endpoint.public_id}),
    "api:webhook-delivery-detail": Case(kwargs=lambda a: {"id": a.delivery.public_id}),
    "api:webhook-delivery-redeliver": Case(kwargs=lambda a: {"id": a.delivery.public_id}),
    "api:invoice-detail": Case(kwargs=lambda a: {"id": a.extra["invoice"].public_id}),
    "api:invoice-pdf": Case(kwargs=lambda a: {"id": a.extra["invoice"].public_id}),
    "api:credit-note-detail": Case(kwargs=lambda a: {"id": a.extra["credit_note"].public_id}),
    "api:credit-note-pdf": Case(kwargs=lambda a: {"id": a.extra["credit_note"].public_id}),
    "api:order-detail": Case(kwargs=lambda a: {"id": a.extra["order"].public_id}),
    "api:order-cancel": Case(kwargs=lambda a: {"id": a.extra["order"].public_id}, data=lambda a: {"reason": "taken"}),
    "api:order-address": Case(kwargs=lambda a: {"id": a.extra["order"].public_id}, data=lambda a: {"postcode": "69003"}),
    "api:order-recheck": Case(kwargs=lambda a: {"id": a.extra["order"].public_id}),
    "api:order-shipments": Case(kwargs=lambda a: {"id": a.extra["order"].public_id}),
    # Portal
    "orders:detail": Case(kwargs=lambda a: {"public_id": a.extra["order"].public_id}),
    "orders:update_address": Case(kwargs=lambda a: {"public_id": a.extra["order"].public_id},
                                  data=lambda a: {**SHIP_TO, "postcode": "69003"}),
    "orders:recheck": Case(kwargs=lambda a: {"public_id": a.extra["order"].public_id}),
    "orders:cancel": Case(kwargs=lambda a: {"public_id": a.extra["order"].public_id}),
    "orders:import_status": Case(kwargs=lambda a: {"public_id": a.extra["order_import"].public_id}),
    "partners:revoke_invitation": Case(kwargs=lambda a: {"public_id": a.invitation.public_id}),
    "partners:revoke_api_key": Case(kwargs=lambda a: {"public_id": a.key.public_id}),
    "partners:webhook": Case(
        kwargs=lambda a: {"public_id": a.endpoint.public_id},
        data=lambda a: {"url": "https://taken-over.example/hook", "description": "taken over"},
    ),
    "partners:webhook_enabled": Case(kwargs=lambda a: {"public_id": a.endpoint.public_id}, data=lambda a: {"enabled": "0"}),
    "partners:delete_webhook": Case(kwargs=lambda a: {"public_id": a.endpoint.public_id}),
    "partners:test_webhook": Case(kwargs=lambda a: {"public_id": a.endpoint.public_id}),
    "partners:redeliver_webhook": Case(
        kwargs=lambda a: {"public_id": a.endpoint.public_id, "delivery_id": a.delivery.public_id}
    ),
    "subscriptions:invoice": Case(kwargs=lambda a: {"public_id": a.extra["invoice"].public_id}),
    "subscriptions:invoice_pdf": Case(kwargs=lambda a: {"public_id": a.extra["invoice"].public_id}),
    "subscriptions:credit_note_pdf": Case(kwargs=lambda a: {"public_id": a.extra["credit_note"].public_id}),
    # Support: A's ticket, A's file (and, in tests/support, a staff note's file no partner reaches)
    "support:ticket": Case(kwargs=lambda a: {"public_id": a.extra["ticket"].public_id},
                           data=lambda a: {"body": "taken over"}),
    "support:reopen": Case(kwargs=lambda a: {"public_id": a.extra["ticket"].public_id},
                           data=lambda a: {"body": "taken over"}),
    "support:rate": Case(kwargs=lambda a: {"public_id": a.extra["ticket"].public_id}, data=lambda a: {"rating": "1"}),
    "support:attachment": Case(kwargs=lambda a: {"public_id": a.extra["attachment"].public_id}),
    "api:ticket-detail": Case(kwargs=lambda a: {"id": a.extra["ticket"].public_id}),
    "api:ticket-messages": Case(kwargs=lambda a: {"id": a.extra["ticket"].public_id},
                                data=lambda a: {"body": "taken over"}),
    "api:ticket-reopen": Case(kwargs=lambda a: {"id": a.extra["ticket"].public_id}),
    "api:ticket-rating": Case(kwargs=lambda a: {"id": a.extra["ticket"].public_id}, data=lambda a: {"rating": 1}),
    "api:ticket-attachment-detail": Case(kwargs=lambda a: {"id": a.extra["attachment"].public_id}),
    "api:ticket-attachment-content": Case(kwargs=lambda a: {"id": a.extra["attachment"].public_id}),
}

# Routes without kwargs that act on an object named in the body or the query.
NAMED_IN_REQUEST: dict[str, Case] = {
    "api:event-list": Case(query=lambda a: {"after": a.event.public_id}),
    "partners:switch_partner": Case(data=lambda a: {"partner": a.partner.public_id}),
    "partners:change_role": Case(data=lambda a: {"email": a.member.user.email, "role": Role.OWNER}),
    "partners:remove_member": Case(data=lambda a: {"email": a.member.user.email}),
    "support:new_ticket": Case(query=lambda a: {"order": a.extra["ticket"].order.public_id}),
}


# --- What "unchanged" and "not shown" mean -------------------------------------------------------


def _partner_owned_models():
    for model in apps.get_models():
        partner_field = next((f for f in model._meta.fields if f.name == "partner"), None)
        if partner_field is not None and partner_field.related_model is Partner:
            yield model


def snapshot(world: World) -> dict:
    """Every row partner A owns, as stored."""
    rows = {
        model._meta.label: list(model._default_manager.filter(partner=world.partner).order_by("pk").values())
        for model in _partner_owned_models()
    }
    rows["bigstock.WebhookAttempt"] = list(WebhookAttempt.objects.filter(delivery__partner=world.partner).values())
    rows["partners.Partner"] = list(Partner.objects.filter(pk=world.partner.pk).values())
    rows["partners.User"] = list(User.objects.filter(memberships__partner=world.partner).order_by("pk").values())
    return rows


def identifiers(world: World, rows: dict) -> set[str]:
    """What would betray A in a response: its public ids, emails, SIRET, webhook URLs, key prefix."""
    found = {world.partner.siret, world.key.prefix}
    for table in rows.values():
        for row in table:
            found.update(str(row[name]) for name in ("public_id", "email", "url") if row.get(name))
    return found


def assert_nothing_of(world_ids: set[str], response, context: str) -> None:
    content = b"".join(response.streaming_content) if response.streaming else response.content  # CSV exports
    body = content.decode(errors="replace")
    leaked = sorted(value for value in world_ids if value in body)
    assert not leaked, f"{context}: the response shows partner A's {leaked}"


# --- Clients ---------------------------------------------------------------------------------------


def session_of(world: World) -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(world.owner.user)
    return client


def key_of(world: World) -> Client:
    return Client(HTTP_ACCEPT_LANGUAGE="en", HTTP_AUTHORIZATION=f"Bearer {world.secret}")


def send(client: Client, method: str, url: str, *, api: bool, data: dict | None = None, query: dict | None = None):
    if query:
        url = f"{url}?{urlencode(query)}"
    if method == "GET":
        return client.get(url)
    if api:
        return client.generic(method, url, json.dumps(data or {}), content_type="application/json")
    return client.generic(method, url, urlencode(data or {}, doseq=True),
                          content_type="application/x-www-form-urlencoded")


def methods_to_try(route: Route) -> list[tuple[str, bool]]:
    """(method, known to be accepted); for a function view every method is tried."""
    if route.methods is None:
        return [(method, False) for method in ("GET", *WRITE_METHODS)]
    return [(method, True) for method in ("GET", *WRITE_METHODS) if method in route.methods]


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    cache.clear()


@pytest.fixture
def worlds():
    return build_world(), build_world()


def _route_id(route: Route) -> str:
    return route.name


# --- The tests -------------------------------------------------------------------------------------


def test_every_partner_facing_route_has_an_isolation_case():
    missing = [
        f"route {route.name} ({route.pattern}) has no isolation case: add one to CASES in "
        "tests/test_tenant_isolation.py (or to NOT_PARTNER_SCOPED, with the reason)"
        for route in OBJECT_ROUTES if route.name not in CASES
    ]
    assert not missing, "\n".join(missing)


def test_every_isolation_case_still_matches_a_route():
    names = {route.name for route in ROUTES}
    stale = sorted(set(CASES) | set(NAMED_IN_REQUEST) | set(NOT_PARTNER_SCOPED))
    stale = [name for name in stale if name not in names]
    assert not stale, f"these entries match no route any more, remove them: {stale}"


def test_the_walk_finds_the_portal_and_the_api():
    names = {route.name for route in ROUTES}
    assert {"partners:dashboard", "api:partner", "api:webhook-endpoint-detail", "api:event-list"} <= names
    assert not any(name.startswith(("admin:", "api:schema", "api:docs")) for name in names)


@pytest.mark.parametrize("route", OBJECT_ROUTES, ids=_route_id)
def test_partner_b_gets_404_on_partner_a_objects(route, worlds):
    if route.name not in CASES:
        pytest.fail(f"route {route.name} ({route.pattern}) has no isolation case: add one to CASES in "
                    "tests/test_tenant_isolation.py")
    a, b = worlds
    case = CASES[route.name]
    url = reverse(route.name, kwargs=case.kwargs(a))
    before = snapshot(a)
    a_ids = identifiers(a, before) - set(case.kwargs(a).values())  # a 404 page may echo the URL asked for

    for who, client in [("B's session", session_of(b)), ("B's API key", key_of(b))]:
        for method, known in methods_to_try(route):
            response = send(client, method, url, api=route.is_api, data=case.data(a))
            context = f"{method} {url} with {who}"
            if not route.is_api and who == "B's API key":
                # The portal does not take API keys: an anonymous visitor, sent to log in.
                assert response.status_code in (302, 405), f"{context}: {response.status_code}"
                if response.status_code == 302:
                    assert response["Location"].startswith(reverse("account_login")), context
            elif known:
                assert response.status_code == 404, f"{context}: {response.status_code}, expected 404"
            else:
                assert response.status_code in (404, 405), f"{context}: {response.status_code}, expected 404"
            assert_nothing_of(a_ids, response, context)

    assert snapshot(a) == before, f"{route.name}: partner B's requests changed partner A's rows"
    _assert_owner_reaches(route, url, a, case)


def _assert_owner_reaches(route: Route, url: str, a: World, case: Case) -> None:
    """The case aims at a real object: A's owner gets an answer other than 404 (or 403)."""
    clients = [session_of(a), key_of(a)] if route.is_api else [session_of(a)]
    for client in clients:
        for method in ("GET", "POST", "PATCH", "PUT", "DELETE"):
            if route.methods is not None and method not in route.methods:
                continue
            response = send(client, method, url, api=route.is_api, data=case.data(a))
            if response.status_code == 405:
                continue
            assert response.status_code not in (403, 404) and response.status_code < 500, (
                f"{method} {url} by partner A's owner answers {response.status_code}: fix the case in CASES"
            )
            break
        else:
            pytest.fail(f"{route.name}: partner A's owner could not call {url} with any method")


@pytest.mark.parametrize("route", PAGE_ROUTES, ids=_route_id)
def test_lists_and_pages_never_show_partner_a_rows_to_partner_b(route, worlds):
    a, b = worlds
    before = snapshot(a)
    a_ids = identifiers(a, before)
    url = reverse(route.name)
    clients = [("B's session", session_of(b))] + ([("B's API key", key_of(b))] if route.is_api else [])
    for who, client in clients:
        response = send(client, "GET", url, api=route.is_api)
        context = f"GET {url} with {who}"
        if response.status_code == 405:
            continue  # a button (POST only): NAMED_IN_REQUEST covers the ones that name an object
        assert response.status_code in (200, 302), f"{context}: {response.status_code}"
        assert_nothing_of(a_ids, response, context)
    assert snapshot(a) == before


@pytest.mark.parametrize("name", sorted(NAMED_IN_REQUEST))
def test_naming_partner_a_object_in_the_request_is_refused(name, worlds):
    a, b = worlds
    route = next(route for route in ROUTES if route.name == name)
    case = NAMED_IN_REQUEST[name]
    before = snapshot(a)
    a_ids = identifiers(a, before)
    url = reverse(name)
    method = "GET" if route.methods is None or "GET" in route.methods else "POST"
    clients = [("B's session", session_of(b))] + ([("B's API key", key_of(b))] if route.is_api else [])
    for who, client in clients:
        response = send(client, method, url, api=route.is_api, data=case.data(a), query=case.query(a))
        context = f"{method} {url} naming A's object with {who}"
        assert response.status_code in (400, 404), f"{context}: {response.status_code}"
        assert_nothing_of(a_ids - set(case.query(a).values()), response, context)
    assert snapshot(a) == before


def test_the_shared_catalogue_shows_each_partner_only_its_own_price(worlds):
    """The catalogue is not partner-owned, but prices follow each partner's plan: A's page and
    B's page of the same products never show the other's price."""
    a, b = worlds
    for world, discount in [(a, "0.030"), (b, "0.060")]:  # upgrades: they apply at once
        billing.change_plan(subscription=billing.current_subscription(world.partner), actor=audit.SYSTEM,
                            plan=PlanFactory(wholesale_discount=Decimal(discount), price_cents=99_000))
    product = make_product("PRICE-1", wholesale_price_cents=123_457, stock={WarehouseFactory(code="lyon"): 5})
    prices = {world.partner.pk: price_for(partner=world.partner, product=product) for world in (a, b)}
    assert prices[a.partner.pk] != prices[b.partner.pk]
    for world, other in [(a, b), (b, a)]:
        client = session_of(world)
        for url in (reverse("inventory:catalogue"), reverse("inventory:product", args=[product.public_id])):
            body = client.get(url).content.decode()
            assert format_cents(prices[world.partner.pk]) in body, f"{url}: {world.partner} misses its price"
            assert format_cents(prices[other.partner.pk]) not in body, f"{url}: shows {other.partner}'s price"
