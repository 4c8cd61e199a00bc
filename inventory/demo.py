"""Demo catalogue for `make run`: two warehouses (Lyon, Lille), a few hundred French products
with valid EAN-13 codes, stock received through the ledger with some history (adjustments,
stocktakes, sales of the demo partners), receipts on their way, and levels under their
reorder point. Idempotent: products are found by SKU, receipts by supplier reference, and
the history is written once, with the products it is about.
"""

import datetime as dt
import random

from stdnum import ean

from partners.audit import SYSTEM
from partners.models import Partner

from . import receiving, reorder, services
from .models import Product, Receipt, StockLevel, StockMovement, VatClass, Warehouse

WAREHOUSES = [
    ("lyon", "Entrepôt de Lyon", "12 rue des Entrepôts, 69007 Lyon"),
    ("lille", "Entrepôt de Lille", "45 avenue de la Marne, 59000 Lille"),
]

# (SKU prefix, category FR, VAT class, HS code, variants [(FR, EN)], product types
#  [(name FR, name EN, wholesale price range in euros, weight g, brand)])
COLOURS = [("bleu", "blue"), ("vert sauge", "sage green"), ("terracotta", "terracotta"), ("blanc", "white"),
           ("noir", "black"), ("moutarde", "mustard")]
CATALOGUE = [
    ("CUI", "Cuisine", VatClass.STANDARD, "691200", COLOURS, [
        ("Mug en grès 35 cl", "Stoneware mug 35 cl", (3, 7), 350, "Terre & Grès"),
        ("Bol à café", "Coffee bowl", (3, 6), 300, "Terre & Grès"),
        ("Théière en fonte 1 l", "Cast-iron teapot 1 l", (18, 32), 1400, "Atelier Rhône"),
        ("Cocotte en fonte 24 cm", "Cast-iron casserole 24 cm", (38, 65), 4800, "Atelier Rhône"),
        ("Moulin à poivre en hêtre", "Beech pepper mill", (9, 16), 250, "Atelier Rhône"),
        ("Tablier en lin lavé", "Washed linen apron", (11, 19), 220, "Filature du Nord"),
        ("Assiette plate en grès", "Stoneware dinner plate", (4, 8), 600, "Terre & Grès"),
    ]),
    ("MAI", "Maison", VatClass.STANDARD, "940550", COLOURS, [
        ("Bougie parfumée 200 g", "Scented candle 200 g", (7, 13), 420, "Maison Lavande"),
        ("Plaid en laine", "Wool throw", (29, 49), 1100, "Filature du Nord"),
        ("Coussin en lin 45 x 45", "Linen cushion 45 x 45", (12, 21), 500, "Filature du Nord"),
        ("Vase en céramique", "Ceramic vase", (10, 24), 900, "Terre & Grès"),
        ("Panier en osier", "Wicker basket", (9, 18), 700, "Les Ateliers de Lille"),
        ("Photophore en verre soufflé", "Blown-glass candle holder", (8, 15), 450, "Les Ateliers de Lille"),
    ]),
    ("EPI", "Épicerie fine", VatClass.REDUCED, "200799", [("250 g", "250 g"), ("500 g", "500 g"),
                                                         ("coffret", "gift box")], [
        ("Confiture d'abricots du Roussillon", "Roussillon apricot jam", (3, 5), 300, "Comptoir Breton"),
        ("Miel de lavande", "Lavender honey", (5, 9), 350, "Maison Lavande"),
        ("Sel de Guérande", "Guérande salt", (2, 4), 300, "Comptoir Breton"),
        ("Biscuits au beurre salé", "Salted butter biscuits", (2, 5), 280, "Comptoir Breton"),
        ("Chocolat noir 70 %", "Dark chocolate 70 %", (2, 4), 120, "Chocolaterie de Lyon"),
        ("Moutarde à l'ancienne", "Wholegrain mustard", (2, 4), 250, "Comptoir Breton"),
        ("Caramels au beurre salé", "Salted butter caramels", (3, 6), 200, "Comptoir Breton"),
        ("Tapenade noire", "Black olive tapenade", (3, 5), 180, "Jardins de Provence"),
    ]),
    ("PAP", "Papeterie", VatClass.STANDARD, "482010", COLOURS[:4], [
        ("Carnet ligné A5", "A5 lined notebook", (3, 7), 250, "Papeterie Vauban"),
        ("Carnet pointillé A5", "A5 dotted notebook", (3, 7), 250, "Papeterie Vauban"),
        ("Agenda semainier 2027", "2027 weekly planner", (7, 12), 400, "Papeterie Vauban"),
        ("Stylo plume", "Fountain pen", (9, 22), 40, "Papeterie Vauban"),
        ("Trousse en toile", "Canvas pencil case", (5, 9), 90, "Filature du Nord"),
    ]),
    ("BEA", "Beauté", VatClass.STANDARD, "340111", [("lavande", "lavender"), ("fleur d'oranger", "orange blossom"),
                                                   ("verveine", "verbena"), ("amande douce", "sweet almond"),
                                                   ("figue", "fig")], [
        ("Savon de Marseille 100 g", "Marseille soap 100 g", (2, 4), 110, "Savonnerie du Vieux Port"),
        ("Crème mains 75 ml", "Hand cream 75 ml", (4, 8), 100, "Maison Lavande"),
        ("Huile de massage 100 ml", "Massage oil 100 ml", (6, 11), 160, "Maison Lavande"),
        ("Gel douche 250 ml", "Shower gel 250 ml", (3, 6), 280, "Savonnerie du Vieux Port"),
        ("Bougie de massage", "Massage candle", (8, 13), 200, "Maison Lavande"),
    ]),
    ("JAR", "Jardin", VatClass.STANDARD, "732393", [("petit", "small"), ("moyen", "medium"), ("grand", "large")], [
        ("Arrosoir en zinc", "Zinc watering can", (12, 24), 1200, "Jardins de Provence"),
        ("Pot en terre cuite", "Terracotta pot", (3, 12), 1500, "Jardins de Provence"),
        ("Jardinière en bois", "Wooden planter", (14, 30), 3000, "Jardins de Provence"),
        ("Gants de jardinage", "Gardening gloves", (4, 8), 120, "Jardins de Provence"),
        ("Nichoir à oiseaux", "Bird house", (9, 16), 800, "Petit Sapin"),
    ]),
    ("JOU", "Jouets", VatClass.STANDARD, "950300", [("3 ans et +", "age 3+"), ("5 ans et +", "age 5+"),
                                                  ("8 ans et +", "age 8+")], [
        ("Puzzle en bois", "Wooden puzzle", (7, 15), 450, "Petit Sapin"),
        ("Peluche lapin", "Rabbit soft toy", (8, 14), 200, "Petit Sapin"),
        ("Jeu de cartes des sept familles", "Happy families card game", (3, 6), 150, "Petit Sapin"),
        ("Toupie en bois", "Wooden spinning top", (2, 5), 60, "Petit Sapin"),
        ("Jeu de quilles", "Skittles set", (10, 19), 900, "Petit Sapin"),
    ]),
    ("TEX", "Textile", VatClass.STANDARD, "610910", COLOURS, [
        ("T-shirt en coton bio", "Organic cotton T-shirt", (8, 14), 180, "Filature du Nord"),
        ("Écharpe en laine mérinos", "Merino wool scarf", (15, 28), 200, "Filature du Nord"),
        ("Chaussettes en coton peigné", "Combed cotton socks", (3, 6), 60, "Filature du Nord"),
        ("Sac cabas en toile", "Canvas tote bag", (5, 10), 250, "Les Ateliers de Lille"),
        ("Bonnet en laine", "Wool beanie", (7, 13), 100, "Filature du Nord"),
    ]),
]

RECEIPTS = [
    # (supplier, reference, warehouse, days from today, how many low-stock products, partly received)
    ("Terre & Grès SARL", "DEMO-CMD-2041", "lyon", 3, 6, False),
    ("Filature du Nord", "DEMO-CMD-2042", "lille", 7, 5, False),
    ("Comptoir Breton", "DEMO-CMD-2043", "lyon", 12, 4, False),
    ("Atelier Rhône", "DEMO-CMD-2039", "lille", 2, 4, True),
]
ADJUSTMENTS = ["Casse à la manutention", "Colis endommagé à la réception", "Produit retrouvé lors du rangement",
               "Échantillon pour photos"]


def _gtin(number: int) -> str:
    base = f"3761234{number:05d}"  # a French GS1 prefix (376), a made-up company, the item
    return base + ean.calc_check_digit(base)


def _products(rng: random.Random) -> list[Product]:
    products, number = [], 0
    for prefix, category, vat_class, hs_code, variants, kinds in CATALOGUE:
        for kind_index, (name_fr, name_en, (low, high), weight_g, brand) in enumerate(kinds, start=1):
            for variant_index, (variant_fr, variant_en) in enumerate(variants, start=1):
                number += 1
                price_cents = rng.randint(low * 100, high * 100) // 10 * 10
                products.append(Product(
                    sku=f"{prefix}-{kind_index:02d}{variant_index:02d}", gtin=_gtin(number),
                    name_fr=f"{name_fr}, {variant_fr}", name_en=f"{name_en}, {variant_en}",
                    description_fr=f"{name_fr} ({variant_fr}), de la marque {brand}.",
                    description_en=f"{name_en} ({variant_en}), by {brand}.",
                    brand=brand, category=category, weight_g=weight_g, length_mm=rng.randint(60, 400),
                    width_mm=rng.randint(40, 300), height_mm=rng.randint(20, 300), country_of_origin="FR",
                    hs_code=hs_code, wholesale_price_cents=price_cents,
                    retail_price_cents=price_cents * 22 // 100 * 10, vat_class=vat_class,
                ))
    return products


def _history(products: list[Product], warehouses: dict[str, Warehouse], rng: random.Random) -> list[Product]:
    """Initial stock, reorder settings, corrections, stocktakes and the demo partners' sales.
    Returns the products left under their reorder point."""
    receipts = []
    for product in products:
        for code, warehouse in warehouses.items():
            if code == "lyon" or rng.random() < 0.7:
                receipts.append(services.BatchChange(product.pk, warehouse.pk, rng.randint(20, 400)))
    services.apply_batch(kind=StockMovement.Kind.RECEIPT, changes=receipts, actor=SYSTEM,
                         reason="Stock initial", reference=("receipt", "demo-initial"))
    low = rng.sample(products, 24)
    low_ids = {product.pk for product in low}
    for level in StockLevel.objects.filter(product__in=products).select_related("product", "warehouse"):
        point = rng.choice([10, 20, 30])
        if level.product_id in low_ids:
            level = services.count(product=level.product, warehouse=level.warehouse,
                                   counted=rng.randint(2, point - 2), reason="Inventaire tournant", actor=SYSTEM)
            point = point + level.on_hand  # well above what is left
        reorder.set_reorder_levels(level=level, reorder_point=point, reorder_target=point * 4)
    lyon = warehouses["lyon"]
    for product in rng.sample([p for p in products if p.pk not in low_ids], 20):
        services.adjust(product=product, warehouse=lyon, delta=rng.choice([-3, -2, -1, 1, 2]),
                        reason=rng.choice(ADJUSTMENTS), actor=SYSTEM)
    for product in rng.sample([p for p in products if p.pk not in low_ids], 12):
        level = StockLevel.objects.get(product=product, warehouse=lyon)
        services.count(product=product, warehouse=lyon, counted=max(0, level.on_hand + rng.randint(-4, 3)),
                       reason="Inventaire annuel", actor=SYSTEM)
    _sales(products, low, rng)
    return low


def _sales(products: list[Product], low: list[Product], rng: random.Random) -> None:
    """Orders of the demo partners, reserved then shipped, so the reorder list has a month of
    demand and the partners see "low stock" on what they sold."""
    partners = list(Partner.objects.filter(legal_name__in=["Maison Durand SARL", "Atelier Lumière SAS"]))
    for number in range(40):
        if not partners:
            return
        partner = partners[number % len(partners)]
        chosen = rng.sample(products, 2) + ([low[number % len(low)]] if number < len(low) else [])
        lines = [services.LineRequest(product.sku, 1) for product in {p.pk: p for p in chosen}.values()]
        reference = ("order", f"DEMO-{number + 1:04d}")
        allocations, _missing = services.reserve(lines=lines, partner=partner, actor=SYSTEM, reference=reference,
                                                 allow_partial=True)
        services.ship(allocations=allocations, partner=partner, actor=SYSTEM, reference=reference)


def _receipts(low: list[Product], warehouses: dict[str, Warehouse]) -> None:
    today = dt.date.today()
    start = 0
    for supplier, reference, code, days, count, partly in RECEIPTS:
        if Receipt.objects.filter(supplier=supplier, reference=reference).exists():
            continue
        chosen, start = low[start:start + count], start + count
        receipt = receiving.create_receipt(
            supplier=supplier, reference=reference, warehouse=warehouses[code],
            expected_on=today + dt.timedelta(days=days), actor=SYSTEM,
            lines=[receiving.LineIn(product, 48 + 12 * index) for index, product in enumerate(chosen)])
        if partly:
            first = receipt.lines.order_by("pk").first()
            receiving.receive_receipt(receipt=receipt, quantities={first.pk: first.quantity_expected}, actor=SYSTEM)


def load() -> list[str]:
    warehouses = {}
    for code, name, address in WAREHOUSES:
        warehouses[code], _created = Warehouse.objects.get_or_create(code=code, defaults={"name": name,
                                                                                         "address": address})
    rng = random.Random(2027)  # the same catalogue on every machine
    wanted = _products(rng)
    existing = set(Product.objects.filter(sku__in=[p.sku for p in wanted]).values_list("sku", flat=True))
    new = services.create_products(products=[p for p in wanted if p.sku not in existing])
    if new:
        low = _history(new, warehouses, rng)
        _receipts(low, warehouses)
    below = len(reorder.levels_to_reorder())
    return [f"catalogue {Product.objects.count()} products in {len(warehouses)} warehouses, "
            f"{below} stock levels under their reorder point (admin: /admin/inventory/stocklevel/reorder/)"]
