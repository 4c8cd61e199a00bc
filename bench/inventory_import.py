"""Staff bulk import benchmark (prints figures, asserts nothing). Target: 50,000 lines under 60 s.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bigstock_bench .venv/bin/python bench/inventory_import.py

Creates a fresh database with two warehouses and half the file's products already in stock,
then imports a CSV of N lines the way the Celery task does (``imports.run_import``): half the
lines update an existing product's price and count its stock in Lyon, half create a product
with its stock in Lille. Prints the validation and the application separately, the queries,
and the machine.
"""

import argparse
import os
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bigstock.settings")
os.environ.setdefault("SECRET_KEY", "bench-only")
os.environ.setdefault("SECURE_SSL_REDIRECT", "0")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lines", type=int, default=50_000)
    args = parser.parse_args()

    import django

    django.setup()
    from django.conf import settings
    from django.core.files.base import ContentFile
    from django.core.management import call_command
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    if connection.vendor != "postgresql":
        sys.exit("bench/inventory_import.py measures PostgreSQL: set DATABASE_URL=postgres://...")
    settings.DEBUG = False
    call_command("migrate", verbosity=0)
    call_command("flush", interactive=False, verbosity=0)

    from inventory import imports, services
    from inventory.models import ImportJob, Product, StockMovement, Warehouse
    from inventory.selectors import ledger_differences
    from partners.audit import SYSTEM
    from partners.models import User

    lyon = Warehouse.objects.create(code="lyon", name="Lyon")
    Warehouse.objects.create(code="lille", name="Lille")
    half = args.lines // 2
    existing = services.create_products(products=[
        Product(sku=f"BENCH-{n:06d}", name_fr=f"Produit {n}", name_en=f"Product {n}", wholesale_price_cents=990)
        for n in range(half)])
    services.apply_batch(kind="receipt", changes=[services.BatchChange(p.pk, lyon.pk, 50) for p in existing],
                         actor=SYSTEM)
    rows = ["sku,warehouse,quantity,name_fr,wholesale_price"]
    rows += [f"BENCH-{n:06d},lyon,{n % 90},,{n % 70 + 1}.50" for n in range(half)]
    rows += [f"BENCH-{n:06d},lille,{n % 40},Nouveau produit {n},{n % 70 + 1}.90" for n in range(half, args.lines)]
    user = User.objects.create(email="bench@bigstock.example", is_staff=True)
    job = ImportJob(filename="bench.csv", mode=ImportJob.Mode.COUNT, created_by=user, language="en")
    job.file.save("bench.csv", ContentFile("\n".join(rows).encode()), save=False)
    job.save()

    phases = {}
    validate = imports.validate

    def timed_validate(*a, **kw):
        start = time.perf_counter()
        plan = validate(*a, **kw)
        phases["validate"] = time.perf_counter() - start
        return plan

    imports.validate = timed_validate
    with CaptureQueriesContext(connection) as queries:
        start = time.perf_counter()
        job = imports.run_import(job_id=job.pk)
        total = time.perf_counter() - start
    movements = StockMovement.objects.filter(reference_id=job.public_id).count()

    print(f"machine: {platform.node()} {platform.machine()} {os.cpu_count()} CPUs, Python "
          f"{platform.python_version()}, PostgreSQL {connection.pg_version / 10000:.1f}")
    print(f"import of {args.lines:,} lines ({half:,} updates + counts, {args.lines - half:,} new products): "
          f"{job.status} in {total:.1f} s (validation {phases['validate']:.1f} s, reading and applying "
          f"{total - phases['validate']:.1f} s), {len(queries.captured_queries)} queries")
    print(f"result: {job.result['created']:,} created, {job.result['updated']:,} updated, "
          f"{job.result['quantities']:,} quantities changed, {movements:,} movements; "
          f"ledger differences: {len(ledger_differences())}")


if __name__ == "__main__":
    main()
