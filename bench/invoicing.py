"""Monthly invoicing benchmark (prints figures, asserts nothing).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bigstock_bench REDIS_URL=redis://127.0.0.1:6379/11 \\
        .venv/bin/python bench/invoicing.py --subscriptions 10000 --pdf-sample 50

Creates a fresh database, N partners with a subscription each (manual rail), then runs the
invoicing of the next period the way the Celery workers do: the batches ``start_invoicing_run``
queues, each run by the body of the ``invoice_subscriptions`` task, handed one at a time to
``--processes`` worker processes (a Celery queue with prefetch 1); follow-up tasks (PDF, email,
collection) are only enqueued on the broker, as in production. PDF rendering is timed on a
sample and extrapolated. Queries per invoice are counted on invoices spread over the run to
show they do not grow.
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
    from subscriptions import documents, periods, services, tasks
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
    # Last month's periods, due today, as the tasks see them (they bill on the current date).
    end = periods.month_start(periods.today())
    start = periods.month_start(end - dt.timedelta(days=1))
    Subscription.objects.bulk_create([
        Subscription(partner=p, plan=plan, status="active", started_on=start, current_period_start=start,
                     current_period_end=end) for p in partners
    ], batch_size=2000)
    print(f"seeded {n} partners and subscriptions in {time.perf_counter() - t0:.1f} s")

    # What start_invoicing_run queues (run on the day the period ends).
    due = [[subscription_id, period_start.isoformat()]
           for subscription_id, period_start in services.due_subscription_ids(today=end)]
    # Queries per invoice, on a sample spread over the run (must not grow with the number of partners).
    probes = due[:: max(1, len(due) // 20)]
    query_counts = []
    t0 = time.perf_counter()
    for item in probes:
        with CaptureQueriesContext(connection) as ctx:
            tasks.invoice_subscriptions([item])
        query_counts.append(len(ctx.captured_queries))
    probe_s = time.perf_counter() - t0
    probed = {tuple(item) for item in probes}
    rest = [item for item in due if tuple(item) not in probed]
    batches = [rest[first : first + tasks.INVOICING_BATCH] for first in range(0, len(rest), tasks.INVOICING_BATCH)]
    connection.close()
    # The rest as billing workers do it: each process takes the next batch when it is done with one.
    t0 = time.perf_counter()
    with multiprocessing.get_context("fork").Pool(args.processes, initializer=_start_worker) as pool:
        for _ in pool.imap_unordered(tasks.invoice_subscriptions, batches):
            pass
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
        without_s = n / (len(rest) / elapsed)
        cores = os.cpu_count() or 1
        print(f"PDF rendering: median {per_pdf * 1000:.0f} ms per invoice over {len(durations)}; "
              f"{n} invoices with PDFs ≈ {without_s + per_pdf * n / cores:.0f} s with the PDFs spread over "
              f"{cores} cores ({without_s + per_pdf * n:.0f} s on one worker process; PDFs render in the "
              f"send_invoice task, in parallel across workers)")
    else:
        print("PDF rendering: not available in this build")


def _start_worker() -> None:
    from django.db import connection

    connection.close()  # never share the parent's connection after fork


def _has_tables(connection) -> bool:
    return "subscriptions_invoice" in connection.introspection.table_names()


if __name__ == "__main__":
    main()
