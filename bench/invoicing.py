"""Monthly invoicing benchmark (prints figures, asserts nothing).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bigstock_bench REDIS_URL=redis://127.0.0.1:6379/11 \\
        .venv/bin/python bench/invoicing.py --subscriptions 10000 --pdf-sample 50

Creates a fresh database, N partners with a subscription each (manual rail), then runs the
invoicing of the next period the way the Celery tasks do (one ``invoice_next_period`` per
subscription, in one process), timing it; follow-up tasks (PDF, email, collection) are
only enqueued on the broker, as in production. PDF rendering is timed on a sample and
extrapolated. Queries per invoice are counted at two sizes to show they do not grow.
"""

import argparse
import datetime as dt
import multiprocessing
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bigstock.settings")
os.environ.setdefault("SECRET_KEY", "bench-only")
os.environ.setdefault("SECURE_SSL_REDIRECT", "0")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--subscriptions", type=int, default=10_000)
    parser.add_argument("--pdf-sample", type=int, default=50)
    parser.add_argument("--processes", type=int, default=4, help="parallel billing workers (default 4)")
    args = parser.parse_args()

    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    if connection.vendor != "postgresql":
        sys.exit("bench/invoicing.py measures PostgreSQL: set DATABASE_URL=postgres://...")
    settings.DEBUG = False
    call_command("flush", interactive=False, verbosity=0) if _has_tables(connection) else None
    call_command("migrate", verbosity=0)

    from partners.models import Membership, Partner, Role, User
    from subscriptions import documents, services
    from subscriptions.models import Invoice, Plan, Subscription

    plan = Plan.objects.create(code="bench", name_fr="Bench", name_en="Bench", price_cents=9900, included_orders=1,
                               team_seats=1, api_rate_per_min=1, support_first_response_hours=1,
                               support_resolution_hours=1)
    n = args.subscriptions
    t0 = time.perf_counter()
    partners = Partner.objects.bulk_create([
        Partner(legal_name=f"Bench {i}", siret="73282932000074", address_line1="1 rue", postcode="75001",
                city="Paris", country="FR", billing_email=f"b{i}@bench.example", status="active")
        for i in range(n)
    ], batch_size=2000)
    users = User.objects.bulk_create([User(email=f"owner{i}@bench.example") for i in range(n)], batch_size=2000)
    Membership.objects.bulk_create([Membership(user=u, partner=p, role=Role.OWNER) for u, p in zip(users, partners, strict=True)],
                                   batch_size=2000)
    start, end = dt.date(2026, 10, 1), dt.date(2026, 11, 1)
    Subscription.objects.bulk_create([
        Subscription(partner=p, plan=plan, status="active", started_on=start, current_period_start=start,
                     current_period_end=end) for p in partners
    ], batch_size=2000)
    print(f"seeded {n} partners and subscriptions in {time.perf_counter() - t0:.1f} s")

    due = services.due_subscription_ids(today=end)
    # Queries per invoice, on a sample spread over the run (must not grow with the number of partners).
    probes = due[:: max(1, len(due) // 20)]
    query_counts = []
    t0 = time.perf_counter()
    for subscription_id, period_start in probes:
        with CaptureQueriesContext(connection) as ctx:
            services.invoice_next_period(subscription_id=subscription_id, period_start=period_start, today=end)
        query_counts.append(len(ctx.captured_queries))
    probe_s = time.perf_counter() - t0
    rest = [item for item in due if item not in set(probes)]
    connection.close()
    # The rest as billing workers do it: several processes, one transaction per subscription.
    t0 = time.perf_counter()
    chunks = [rest[i :: args.processes] for i in range(args.processes)]
    with multiprocessing.get_context("fork").Pool(args.processes) as pool:
        pool.map(_invoice_chunk, [(chunk, end) for chunk in chunks])
    elapsed = time.perf_counter() - t0
    invoices = Invoice.objects.filter(period_start=end).count()
    print(f"invoiced {len(rest)} subscriptions without PDFs in {elapsed:.1f} s with {args.processes} worker "
          f"processes: {len(rest) / elapsed:.0f} invoices/s; {n} would take {n / (len(rest) / elapsed):.0f} s "
          f"(target: 10,000 in under 60 s); one process alone did {len(probes) / probe_s:.0f} invoices/s")
    print(f"queries per invoice over {len(query_counts)} probes spread over the run: "
          f"min {min(query_counts)}, max {max(query_counts)}; {invoices} invoices in the database")

    sample = list(Invoice.objects.filter(period_start=end).order_by("pk")[: args.pdf_sample])
    durations = []
    for invoice in sample:
        t = time.perf_counter()
        documents.ensure_invoice_pdf(invoice=invoice)
        durations.append(time.perf_counter() - t)
    if durations and any(d > 0.001 for d in durations):
        per_pdf = statistics.median(durations)
        print(f"PDF rendering: median {per_pdf * 1000:.0f} ms per invoice over {len(durations)}; "
              f"{n} invoices with PDFs ≈ {elapsed + per_pdf * n:.0f} s on one worker process "
              f"(PDFs render in the send_invoice task, in parallel across workers)")
    else:
        print("PDF rendering: not available in this build")


def _invoice_chunk(work) -> None:
    from django.db import connection

    from subscriptions import services

    chunk, today = work
    connection.close()  # never share the parent's connection after fork
    for subscription_id, period_start in chunk:
        services.invoice_next_period(subscription_id=subscription_id, period_start=period_start, today=today)


def _has_tables(connection) -> bool:
    return "subscriptions_invoice" in connection.introspection.table_names()


if __name__ == "__main__":
    main()
