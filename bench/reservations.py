
"""Reservation throughput: 3-line orders from 8 parallel clients (prints figures, asserts nothing).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bigstock_feedbench REDIS_URL=redis://127.0.0.1:6379/12 \\
        .venv/bin/python bench/reservations.py [--products 50000] [--duration 20] [--repeats 3] [--no-anchors]

There is no orders API to drive over HTTP yet, so this measures ``inventory.services.reserve``
itself, at service level: 8 processes (one connection each) reserving 3 random SKUs (1 to 5
units each) for one order reference, back to back. Each reservation is one transaction that
locks its levels in primary-key order, writes 3 ledger movements and the feed rows. Without
HTTP, auth, the order row or the idempotency key, it is an upper bound of what order creation
can reach; the anchors (raw PostgreSQL create_order.sql, the floor's POST /api/orders/) are
printed for scale, not as a like-for-like ratio.
"""

import argparse
import multiprocessing
import os
import random
import statistics
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import stock_feed

CLIENTS = 8


def _client(work) -> dict:
    """One client process: reserve until the deadline; latencies and outcomes."""
    from django.db import DatabaseError, connection

    from inventory import services
    from inventory.services import LineRequest
    from partners.audit import SYSTEM
    from partners.models import Partner

    index, skus, deadline = work
    connection.close()  # never share the parent's connection after fork
    rng = random.Random(index)
    partner = Partner.objects.order_by("pk").first()
    latencies, refused, failed = [], 0, 0
    while time.time() < deadline:
        lines = [LineRequest(sku, rng.randint(1, 5)) for sku in rng.sample(skus, 3)]
        started = time.perf_counter()
        try:
            services.reserve(lines=lines, partner=partner, actor=SYSTEM, reference=("order", uuid.uuid4().hex))
        except services.InsufficientStock:
            refused += 1
            continue
        except DatabaseError:  # a deadlock or a serialization failure would land here
            failed += 1
            continue
        latencies.append(time.perf_counter() - started)
    connection.close()
    return {"latencies": latencies, "refused": refused, "failed": failed}


def run(skus: list[str], duration: float) -> dict:
    from django.db import connections

    connections.close_all()
    deadline = time.time() + duration
    started = time.perf_counter()
    with multiprocessing.get_context("fork").Pool(CLIENTS) as pool:
        results = pool.map(_client, [(i, skus, deadline) for i in range(CLIENTS)])
    wall = time.perf_counter() - started
    latencies = sorted(latency for result in results for latency in result["latencies"])
    return {
        "rate": len(latencies) / wall,
        "p50_ms": 1000 * latencies[len(latencies) // 2],
        "p99_ms": 1000 * latencies[int(len(latencies) * 0.99)],
        "refused": sum(result["refused"] for result in results),
        "failed": sum(result["failed"] for result in results),
    }


def statements_per_reservation(skus: list[str]) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from inventory import services
    from inventory.services import LineRequest
    from partners.audit import SYSTEM

    with CaptureQueriesContext(connection) as queries:
        services.reserve(lines=[LineRequest(sku, 1) for sku in skus[:3]], partner=None, actor=SYSTEM,
                         reference=("order", "count"))
    return len(queries.captured_queries)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--products", type=int, default=50_000)
    parser.add_argument("--duration", type=float, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-anchors", action="store_true")
    args = parser.parse_args()

    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        sys.exit("bench/reservations.py measures PostgreSQL: set DATABASE_URL=postgres://.../bigstock_feedbench")
    stock_feed.ensure_database(url)
    import django

    django.setup()
    from django.db import connection

    from inventory.models import ProductAvailability
    from partners.models import Partner

    where = stock_feed.machine()
    stock_feed.say(f"machine: {where}")
    if "inventory_productavailability" not in connection.introspection.table_names() or (
            ProductAvailability.objects.count() != args.products):
        stock_feed.reset_and_seed(args.products)
    if not Partner.objects.exists():
        stock_feed.make_keys(Path(os.devnull))
    skus = list(ProductAvailability.objects.filter(available__gte=100).values_list("sku", flat=True))
    count = statements_per_reservation(skus)
    stock_feed.say(f"{len(skus)} SKUs with at least 100 units; {count} statements per 3-line reservation "
                   "(BEGIN and COMMIT included)")

    floor = None
    if not args.no_anchors:
        stock_feed.anchors_ready()
        floor = stock_feed.Floor()
    runs, pg, floor_runs = [], [], []
    try:
        for round_ in range(1, args.repeats + 1):
            if floor is not None:
                pg.append(stock_feed.pgbench("create_order", duration=args.duration))
                floor_runs.append(floor.load("create_order", duration=args.duration))
            runs.append(run(skus, args.duration))
            stock_feed.say(f"round {round_}: reserve {runs[-1]['rate']:.0f}/s"
                           + (f", raw PostgreSQL {pg[-1]:.0f}/s, floor {floor_runs[-1]['rate']:.0f}/s" if pg else "")
                           + f" (load average {os.getloadavg()[0]:.1f})")
    finally:
        if floor is not None:
            floor.stop()

    ours = {key: statistics.median(r[key] for r in runs) for key in ("rate", "p50_ms", "p99_ms")}
    stock_feed.say("")
    stock_feed.say(f"=== Reservations, 3 lines (1-5 units each) from {CLIENTS} parallel processes, service level, "
                   f"PostgreSQL, medians of {args.repeats} x {args.duration:.0f} s")
    stock_feed.say(f"machine: {where}")
    stock_feed.say(f"  {'BigStock inventory.services.reserve':<44} {ours['rate']:7.0f} orders/s  p50 {ours['p50_ms']:6.1f} ms"
                   f"  p99 {ours['p99_ms']:6.1f} ms  {count} statements; refused (insufficient stock) "
                   f"{sum(r['refused'] for r in runs)}, database errors (deadlocks...) {sum(r['failed'] for r in runs)}")
    if floor is not None:
        floor_op = stock_feed.medians(floor_runs)
        pg_tps = statistics.median(pg)
        stock_feed.say(stock_feed.figure("floor POST /api/orders/ (HTTP, 3 lines)", floor_op,
                                         extra="  17 statements (anchors README)"))
        stock_feed.say(f"  {'raw PostgreSQL create_order.sql (pgbench)':<44} {pg_tps:7.0f} tx/s")
        stock_feed.say(f"for scale only (ours has no HTTP, no order row): reserve / floor = "
                       f"{ours['rate'] / floor_op['rate']:.2f}x, reserve / raw PostgreSQL = "
                       f"{100 * ours['rate'] / pg_tps:.1f} % (the goals apply to POST /api/v1/orders: >= 1.5x the "
                       "floor and >= 8 % of raw PostgreSQL)")


if __name__ == "__main__":
    main()
