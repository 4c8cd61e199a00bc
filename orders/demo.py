"""Demo orders for `make run`: Maison Durand and Atelier Lumière with orders in every state a
partner sees (``checking`` lasts a moment, so none stays there): submitted, ready, on hold for
different reasons (a wrong postcode, the value review, a backorder), picking, packed, shipped
with tracking, delivered, cancelled, returned. Built only with ``orders.services`` on the demo
catalogue (``inventory.demo``, loaded before). Idempotent: each order is found by its reference.

The ``submitted`` order is left to the workers: once they run, it is checked like any other.
"""

import datetime as dt
import logging

from django.conf import settings
from django.utils import timezone

from inventory import services as inventory
from inventory.models import Product, Warehouse
from partners.audit import SYSTEM
from partners.models import Partner

from . import services
from .models import Order

logger = logging.getLogger(__name__)

PARTNERS = {"Maison Durand SARL": "DUR", "Atelier Lumière SAS": "LUM"}

RECIPIENTS = [
    # name, company, line1, postcode, city, country, phone, email
    ("Jeanne Martin", "", "5 rue des Lilas", "69003", "Lyon", "FR", "+33612345678", "jeanne.martin@example.com"),
    ("Paul Bernard", "Bernard & Fils", "12 quai Saint-Antoine", "69002", "Lyon", "FR", "+33478123456", ""),
    ("Sophie Petit", "", "8 rue Nationale", "59800", "Lille", "FR", "+33320123456", "sophie.petit@example.com"),
    ("Lucas Moreau", "", "3 place du Capitole", "31000", "Toulouse", "FR", "+33561123456", ""),
    ("Camille Roux", "Galerie Roux", "21 cours Mirabeau", "13100", "Aix-en-Provence", "FR", "+33442123456", ""),
    ("Hugo Fournier", "", "7 cours de l'Intendance", "33000", "Bordeaux", "FR", "+33556123456", ""),
    ("Emma Dubois", "", "Rue Neuve 10", "1000", "Bruxelles", "BE", "+3225123456", "emma.dubois@example.be"),
    ("Léa Girard", "", "14 rue Crébillon", "44000", "Nantes", "FR", "+33240123456", ""),
    ("Nathan Blanc", "", "2 rue de la Monnaie", "35000", "Rennes", "FR", "+33299123456", ""),
    ("Chloé Weber", "", "9 rue des Juifs", "67000", "Strasbourg", "FR", "+33388123456", ""),
    ("Louis Lambert", "", "30 rue de la Loge", "34000", "Montpellier", "FR", "+33467123456", ""),
]

# (number, what happens after submission, how the order is built). The number is the reference's end.
SCENARIOS = [
    (1, "submitted", "plain"),
    (2, "ready", "plain"),
    (3, "on_hold", "bad_postcode"),
    (4, "on_hold", "value_review"),
    (5, "on_hold", "backorder"),
    (6, "picking", "plain"),
    (7, "packed", "plain"),
    (8, "shipped", "plain"),
    (9, "delivered", "plain"),
    (10, "cancelled", "plain"),
    (11, "returned", "plain"),
]


def _ship_to(index: int, *, bad_postcode: bool = False) -> dict:
    name, company, line1, postcode, city, country, phone, email = RECIPIENTS[index % len(RECIPIENTS)]
    return {"name": name, "company": company, "line1": line1, "line2": "", "city": city, "country": country,
            "postcode": postcode[:-1] if bad_postcode else postcode, "phone": phone, "email": email}


def _in_stock(minimum: int) -> list[Product]:
    """Active products with at least ``minimum`` units available, in SKU order (the same on every machine)."""
    return list(Product.objects.filter(is_active=True, availability__available__gte=minimum)
                .select_related("availability").order_by("sku"))


def _demo_product(sku: str, **fields) -> Product:
    """A product of our own, when the catalogue has none that fits (no inventory demo, tests)."""
    product = Product.objects.filter(sku=sku).first()
    if product is None:
        product = inventory.create_product(sku=sku, **fields)
        warehouse, _created = Warehouse.objects.get_or_create(code="lyon", defaults={"name": "Entrepôt de Lyon"})
        inventory.receive(product=product, warehouse=warehouse, quantity=200, actor=SYSTEM, reason="Stock démo")
    return product


def _plain_lines(offset: int) -> list[services.LineIn]:
    products = _in_stock(30)
    if len(products) < 3:
        products = [_demo_product(f"DEMO-{name.upper()}", name_fr=fr, name_en=en, wholesale_price_cents=price,
                                  weight_g=weight, country_of_origin="FR", hs_code="691200")
                    for name, fr, en, price, weight in [("mug", "Mug démo", "Demo mug", 650, 350),
                                                        ("bol", "Bol démo", "Demo bowl", 550, 300),
                                                        ("carnet", "Carnet démo", "Demo notebook", 450, 250)]]
    step = max(1, len(products) // 7)
    chosen = [products[(offset * step + n * 3) % len(products)] for n in range(1 + offset % 3)]
    return [services.LineIn(product.sku, 1 + (offset + n) % 3) for n, product in enumerate(chosen)]


def _value_review_lines(partner: Partner) -> list[services.LineIn]:
    """Light, dear products up to just over the review threshold, within the parcel's weight limit."""
    threshold = settings.BIGSTOCK_ORDER_REVIEW_THRESHOLD_CENTS
    max_weight = settings.BIGSTOCK_CARRIER_LIMITS["standard"]["max_weight_g"] * 8 // 10
    discount = inventory.discount_for(partner)
    candidates = sorted(_in_stock(10), key=lambda p: -p.wholesale_price_cents / max(p.weight_g, 1))
    lines, value, weight = [], 0, 0
    for product in candidates:
        price = inventory.discounted(product.wholesale_price_cents, discount)
        room = (max_weight - weight) // max(product.weight_g, 1)
        quantity = min(product.availability.available - 5, room, (threshold - value) // price + 1)
        if quantity > 0:
            lines.append(services.LineIn(product.sku, quantity))
            value, weight = value + quantity * price, weight + quantity * product.weight_g
        if value > threshold:
            return lines
    watch = _demo_product("DEMO-MONTRE", name_fr="Montre en acier (démo)", name_en="Steel watch (demo)",
                          wholesale_price_cents=45_000, weight_g=150, country_of_origin="FR", hs_code="910211")
    return [services.LineIn(watch.sku, threshold // inventory.discounted(45_000, discount) + 1)]


def _backorder_lines() -> list[services.LineIn]:
    """The scarcest product in stock, a few more than are left: reserved in part, the rest awaited."""
    scarce = (Product.objects.filter(is_active=True, availability__available__gt=0)
              .select_related("availability").order_by("availability__available", "sku").first())
    if scarce is None:
        scarce = _demo_product("DEMO-VASE", name_fr="Vase démo", name_en="Demo vase", wholesale_price_cents=1800,
                               weight_g=900, country_of_origin="FR", hs_code="691390")
        return [services.LineIn(scarce.sku, 204)]
    return [services.LineIn(scarce.sku, scarce.availability.available + 4)]


def _ship(order: Order, *, number: int, prefix: str, delivered: bool) -> None:
    services.start_picking(order=order, actor=SYSTEM)
    services.mark_packed(order=order, actor=SYSTEM)
    tracking = f"6A{list(PARTNERS.values()).index(prefix) + 1:03d}{number:08d}"
    shipment = services.create_shipment(
        order=order, quantities=None, carrier="Colissimo", tracking_number=tracking, actor=SYSTEM,
        tracking_url=f"https://www.laposte.fr/outils/suivre-vos-envois?code={tracking}", weight_g=1200)
    now = timezone.now()
    services.add_tracking_event(shipment=shipment, kind="in_transit", occurred_at=now - dt.timedelta(hours=20),
                                location="Plateforme de Saint-Priest", description="Colis pris en charge",
                                actor=SYSTEM, source="carrier")
    if delivered:
        services.add_tracking_event(shipment=shipment, kind="delivered",
                                    occurred_at=now - dt.timedelta(hours=2), location=order.ship_to_city,
                                    description="Remis en main propre", actor=SYSTEM, source="carrier")


def _order(partner: Partner, prefix: str, number: int, outcome: str, kind: str) -> Order | None:
    reference = f"DEMO-{prefix}-{number:02d}"
    if Order.objects.for_partner(partner).filter(reference=reference).exists():
        return None
    offset = number + (0 if prefix == "DUR" else 5)
    lines = {"value_review": lambda: _value_review_lines(partner), "backorder": _backorder_lines}.get(
        kind, lambda: _plain_lines(offset))()
    order = services.submit_order(
        partner=partner, reference=reference, ship_to=_ship_to(offset, bad_postcode=kind == "bad_postcode"),
        lines=lines, actor=SYSTEM, source="portal", backorder=kind == "backorder",
        notes="Sonner à l'interphone" if number % 4 == 0 else "")
    if outcome == "submitted":
        return order
    if outcome == "cancelled":
        return services.cancel_order(order=order, actor=SYSTEM, reason="Le client a changé d'avis")
    order = services.process_order(order_id=order.pk)
    if outcome in ("ready", "on_hold"):
        if order.status != outcome:
            logger.warning("demo order %s is %s, not %s", reference, order.status, outcome)
        return order
    if outcome == "picking":
        return services.start_picking(order=order, actor=SYSTEM)
    if outcome == "packed":
        services.start_picking(order=order, actor=SYSTEM)
        return services.mark_packed(order=order, actor=SYSTEM)
    _ship(order, number=number, prefix=prefix, delivered=outcome in ("delivered", "returned"))
    if outcome == "returned":
        return services.mark_returned(order=order, actor=SYSTEM, reason="Article ne convenant pas")
    return order


def load() -> list[str]:
    lines = []
    for legal_name, prefix in PARTNERS.items():
        partner = Partner.objects.filter(legal_name=legal_name).first()
        if partner is None:
            continue
        created = [order for number, outcome, kind in SCENARIOS
                   if (order := _order(partner, prefix, number, outcome, kind)) is not None]
        total = Order.objects.for_partner(partner).count()
        lines.append(f"orders: {partner.trade_name or legal_name} has {total} orders ({len(created)} new), "
                     f"DEMO-{prefix}-01 to -{len(SCENARIOS):02d}")
    return lines
