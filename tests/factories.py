"""factory_boy factories shared by the whole suite."""

from datetime import timedelta

import factory
import factory.random
from allauth.account.models import EmailAddress
from django.utils import timezone

from partners.models import Invitation, Membership, Partner, Role, User

PASSWORD = "correct-horse-battery"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    first_name = factory.Faker("first_name", locale="fr_FR")
    last_name = factory.Faker("last_name", locale="fr_FR")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def verified_email(user, create, extracted, **kwargs):
        if create:
            user.save()
            EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)


class PartnerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Partner

    legal_name = factory.Sequence(lambda n: f"Boutique {n} SAS")
    trade_name = factory.Sequence(lambda n: f"Boutique {n}")
    # A valid SIRET per partner: a Luhn-valid SIREN, then 0001 and the SIRET's own Luhn digit.
    siret = factory.Sequence(lambda n: _luhn_complete(_luhn_complete(f"{10000000 + n:08d}") + "0001"))
    vat_number = ""
    legal_form = "SAS"
    address_line1 = "10 rue de la Paix"
    postcode = "75002"
    city = "Paris"
    country = "FR"
    billing_email = factory.Sequence(lambda n: f"compta{n}@boutique.example")
    phone = "+33123456789"
    status = Partner.Status.ACTIVE


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    partner = factory.SubFactory(PartnerFactory)
    role = Role.OWNER


def _luhn_complete(digits: str) -> str:
    """Append the Luhn check digit that makes ``digits`` + 1 digit valid."""
    for check in "0123456789":
        candidate = digits + check
        total = sum(
            (d if i % 2 == 0 else (d * 2 - 9 if d * 2 > 9 else d * 2))
            for i, d in enumerate(int(c) for c in reversed(candidate))
        )
        if total % 10 == 0:
            return candidate
    raise AssertionError("unreachable")


def make_api_key(partner, *, scopes=("read", "write"), created_by=None, **kwargs):
    """Create an API key through the service; returns (key, secret)."""
    from partners import services
    from partners.audit import SYSTEM

    owner = created_by or MembershipFactory(partner=partner, role=Role.OWNER)
    return services.create_api_key(
        partner=partner, membership=owner, name=kwargs.pop("name", "ERP"), scopes=list(scopes),
        expires_at=kwargs.pop("expires_at", None), actor=SYSTEM,
    )


class PlanFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "subscriptions.Plan"

    code = factory.Sequence(lambda n: f"plan-{n}")
    name_fr = factory.Sequence(lambda n: f"Formule {n}")
    name_en = factory.Sequence(lambda n: f"Plan {n}")
    price_cents = 4900
    included_orders = 100
    team_seats = 3
    api_rate_per_min = 120
    support_first_response_hours = 24
    support_resolution_hours = 72
    priority_weight = 1


# --- Events and webhooks (bigstock) --------------------------------------------------------------


class PartnerEventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "bigstock.PartnerEvent"

    partner = factory.SubFactory(PartnerFactory)
    type = "partner.updated"
    payload = factory.LazyAttribute(lambda event: {"id": event.partner.public_id})


class WebhookEndpointFactory(factory.django.DjangoModelFactory):
    """Written directly (no URL check, no DNS): for tests about who sees what, not about URLs."""

    class Meta:
        model = "bigstock.WebhookEndpoint"

    partner = factory.SubFactory(PartnerFactory)
    url = factory.Sequence(lambda n: f"https://hooks{n}.example.com/bigstock")
    secret = factory.Sequence(lambda n: f"whsec_dGVzdC1zZWNyZXQtbnVtYmVyLXt{n:04d}")


class WebhookDeliveryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "bigstock.WebhookDelivery"

    endpoint = factory.SubFactory(WebhookEndpointFactory)
    partner = factory.SelfAttribute("endpoint.partner")
    event = factory.SubFactory(PartnerEventFactory, partner=factory.SelfAttribute("..partner"))
    status = "failed"
    attempt_count = 1
    last_status_code = 500


class WebhookAttemptFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "bigstock.WebhookAttempt"

    delivery = factory.SubFactory(WebhookDeliveryFactory)
    status_code = 500
    duration_ms = 120
    response_body = "Internal Server Error"


class InvitationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Invitation

    partner = factory.SubFactory(PartnerFactory)
    email = factory.Sequence(lambda n: f"invited{n}@example.com")
    role = Role.MEMBER
    token_hash = factory.Sequence(lambda n: f"{n:064x}")
    expires_at = factory.LazyFunction(lambda: timezone.now() + timedelta(days=7))


class WarehouseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "inventory.Warehouse"
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"wh{n}")
    name = factory.Sequence(lambda n: f"Entrepôt {n}")


def make_product(sku=None, *, stock=None, **fields):
    """A catalogue product through the service; ``stock`` = {warehouse: on hand} received through the ledger."""
    from inventory import services as inventory
    from partners.audit import SYSTEM

    defaults = {"sku": sku or f"SKU-{factory.random.randgen.randint(10**6, 10**7)}", "name_fr": "Produit",
                "name_en": "Product", "wholesale_price_cents": 1000, "weight_g": 500}
    product = inventory.create_product(**{**defaults, **fields})
    for warehouse, quantity in (stock or {}).items():
        inventory.receive(product=product, warehouse=warehouse, quantity=quantity, actor=SYSTEM)
    return product


SHIP_TO = {"name": "Jeanne Martin", "line1": "5 rue des Lilas", "postcode": "69003", "city": "Lyon", "country": "FR",
           "phone": "+33612345678", "email": "jeanne@example.com"}


def submit(partner, *lines, reference=None, ship_to=None, **kwargs):
    """An order through the service: ``submit(partner, ("SKU", 2), ...)``."""
    from orders import services as orders
    from partners.audit import SYSTEM

    return orders.submit_order(
        partner=partner, reference=reference or f"REF-{factory.random.randgen.randint(10**6, 10**7)}",
        ship_to={**SHIP_TO, **(ship_to or {})}, lines=[orders.LineIn(sku, quantity) for sku, quantity in lines],
        actor=SYSTEM, **kwargs)
