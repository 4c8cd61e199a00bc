"""Fair processing under a burst, with real Celery workers on Redis (prints figures, asserts nothing).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bigstock_bench_fairness REDIS_URL=redis://127.0.0.1:6379/13 \\
        .venv/bin/python bench/fairness.py --burst 5000 --single 10

1. prints the machine;
2. rebuilds the database named by DATABASE_URL (PostgreSQL only: it is flushed), purges the
   broker, seeds 50 products and four partners: A and B ``active`` (plan weight 1), G in
   ``grace`` (an invoice overdue), S ``suspended`` (an invoice unpaid past the grace period);
3. starts real Celery workers on Redis, one per queue group as in production (DESIGN.md §8):
   ``priority`` (2 processes), ``standard`` (1), ``default`` for the dispatcher (1), and beat
   (the 15 s sweep);
4. A submits ``--burst`` orders from 4 threads (as an import would), then at once B submits
   ``--single`` orders one by one, G and S as many each; then S pays its invoice;
5. waits until every order is checked and prints, from the database (``submitted_at``,
   ``checked_at``): B's submission-to-checked median and p95 against A's, how much of A's burst
   was still waiting when B's orders were checked, and the delay per standing (active, grace,
   suspended: from submission, and from the payment that released it).

Processes started here are stopped by their PID at the end; the broker is purged.
"""

# A driver of local processes (celery) with arguments it builds itself.
# ruff: noqa: S603

import argparse
import datetime as dt
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bigstock.settings")
os.environ.setdefault("SECRET_KEY", "bench-only-not-secret")
os.environ.setdefault("SECURE_SSL_REDIRECT", "0")
os.environ["DEBUG"] = "0"


def _bench_orders():
    """bench/orders.py (its name is the Django app's, so it is loaded from its path)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("bench_orders", Path(__file__).with_name("orders.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


bench_orders = _bench_orders()
machine, load, ensure_database = bench_orders.machine, bench_orders.load, bench_orders.ensure_database

SHIP_TO = {"name": "Jeanne Martin", "line1": "5 rue des Lilas", "postcode": "69003", "city": "Lyon",
           "country": "FR", "phone": "+33612345678"}
SKUS = [f"FAIR-{i:03d}" for i in range(50)]


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    position = fraction * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def describe(values: list[float]) -> str:
    if not values:
        return "no order"
    return (f"n={len(values):5d}  median {statistics.median(values):7.2f} s  p95 {percentile(values, 0.95):7.2f} s  "
            f"max {max(values):7.2f} s")


def seed() -> dict:
    """Flush, migrate, the products, and the four partners with the standing each stands for."""
    import django

    django.setup()
    import logging

    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection

    logging.disable(logging.INFO)
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"  # dunning emails
    if connection.vendor != "postgresql":
        raise SystemExit("bench/fairness.py measures PostgreSQL and Redis: set DATABASE_URL and REDIS_URL")
    ensure_database(connection.settings_dict["NAME"])
    if "orders_order" in connection.introspection.table_names():
        call_command("flush", interactive=False, verbosity=0)
    call_command("migrate", verbosity=0)

    from inventory import services as inventory
    from inventory.models import Warehouse
    from partners.audit import SYSTEM
    from partners.models import Membership, Partner, Role, User
    from subscriptions import dunning, periods, standing
    from subscriptions import services as subscriptions
    from subscriptions.models import Invoice, Plan, Standing

    warehouse = Warehouse.objects.create(code="lyon", name="Lyon")
    for sku in SKUS:
        product = inventory.create_product(sku=sku, name_fr=sku, name_en=sku, wholesale_price_cents=100, weight_g=200)
        inventory.receive(product=product, warehouse=warehouse, quantity=10_000_000, actor=SYSTEM)
    plan = Plan.objects.create(code="bench", name_fr="Bench", name_en="Bench", price_cents=9900,
                               included_orders=1_000_000, team_seats=1, api_rate_per_min=1_000_000,
                               support_first_response_hours=1, support_resolution_hours=1, priority_weight=1)
    partners = {}
    today = periods.today()
    for name in "ABGS":
        partner = Partner.objects.create(legal_name=f"Partner {name} SAS", siret="73282932000074",
                                         address_line1="1 rue", postcode="75001", city="Paris", country="FR",
                                         billing_email=f"{name.lower()}@bench.example", status=Partner.Status.ACTIVE)
        Membership.objects.create(user=User.objects.create(email=f"owner-{name.lower()}@bench.example"),
                                  partner=partner, role=Role.OWNER)
        started = today - dt.timedelta(days={"G": 20, "S": 60}.get(name, 0))
        subscription = subscriptions.subscribe(partner=partner, plan=plan, actor=SYSTEM, today=started)
        invoice = Invoice.objects.get(subscription=subscription)
        if name in "AB":
            subscriptions.record_payment(invoice=invoice, amount_cents=invoice.total_cents, received_on=today,
                                         reference=f"PAID-{name}", actor=SYSTEM)
        else:
            dunning.process_overdue_invoice(invoice_id=invoice.pk, today=invoice.due_date + dt.timedelta(days=1))
            subscription.refresh_from_db()
            if name == "S":
                dunning.process_overdue_invoice(invoice_id=invoice.pk,
                                                today=subscription.grace_until + dt.timedelta(days=1))
        standing.refresh(partner=partner)
        partners[name] = (partner, invoice)
    levels = {name: Standing.objects.get(partner=partner).level for name, (partner, _i) in partners.items()}
    print(f"partners: {levels}", flush=True)
    connection.close()
    return partners


def submit_many(partner, count: int, prefix: str, threads: int) -> None:
    from django.db import connection

    from orders import services as orders_services
    from partners.audit import SYSTEM

    def submit(indexes):
        try:
            for i in indexes:
                orders_services.submit_order(
                    partner=partner, reference=f"{prefix}-{i}", ship_to=SHIP_TO, actor=SYSTEM, source="api",
                    lines=[orders_services.LineIn(SKUS[(i + k) % len(SKUS)], 1 + k) for k in range(3)])
        finally:
            connection.close()

    workers = [threading.Thread(target=submit, args=(range(n, count, threads),)) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()


def start(command: list[str], env: dict, log: Path) -> subprocess.Popen:
    return subprocess.Popen(command, env=env, cwd=ROOT, stdout=log.open("w"), stderr=subprocess.STDOUT)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--burst", type=int, default=5000)
    parser.add_argument("--single", type=int, default=10)
    parser.add_argument("--threads", type=int, default=4, help="threads submitting A's burst")
    parser.add_argument("--order-workers", type=int, default=2, help="worker processes on the priority queue")
    parser.add_argument("--timeout", type=float, default=1800)
    args = parser.parse_args()
    if not os.environ.get("REDIS_URL"):
        raise SystemExit("bench/fairness.py runs real workers on Redis: set REDIS_URL")
    print(f"machine: {machine()}", flush=True)
    partners = seed()

    from django.conf import settings
    from django.db.models import Count, Q
    from django.utils import timezone

    from bigstock.celery import app
    from orders.models import DispatchState, Order
    from partners.audit import SYSTEM
    from subscriptions import services as subscriptions

    app.control.purge()
    celery = str(Path(sys.executable).parent / "celery")
    processes = []
    with tempfile.TemporaryDirectory(prefix="bench-fairness-") as tmp:
        env = {**os.environ, "BIGSTOCK_DATA_DIR": tmp, "PYTHONPATH": str(ROOT)}
        common = ["-A", "bigstock", "worker", "-l", "warning", "--without-gossip", "--without-mingle"]
        try:
            processes.append(start([celery, *common, "-Q", "priority", "-c", str(args.order_workers),
                                    "-n", "priority@%h"], env, Path(tmp) / "priority.log"))
            processes.append(start([celery, *common, "-Q", "standard", "-c", "1", "-n", "standard@%h"], env,
                                   Path(tmp) / "standard.log"))
            processes.append(start([celery, *common, "-Q", "default", "-c", "1", "-n", "dispatch@%h"], env,
                                   Path(tmp) / "dispatch.log"))
            processes.append(start([celery, "-A", "bigstock", "beat", "-l", "warning", "-s",
                                    str(Path(tmp) / "beat-schedule")], env, Path(tmp) / "beat.log"))
            time.sleep(5)  # workers connected
            print(f"workers up; queue depth {settings.BIGSTOCK_ORDER_QUEUE_DEPTH}; {load()}", flush=True)

            t0 = time.perf_counter()
            submit_many(partners["A"][0], args.burst, "A", args.threads)
            burst_s = time.perf_counter() - t0
            a_waiting = Order.objects.filter(partner=partners["A"][0], checked_at=None).count()
            print(f"A submitted {args.burst} orders in {burst_s:.1f} s ({args.burst / burst_s:.0f}/s); "
                  f"{a_waiting} not checked yet", flush=True)
            for name in "BGS":
                submit_many(partners[name][0], args.single, name, 1)
            invoice = partners["S"][1]
            paid_at = timezone.now()
            subscriptions.record_payment(invoice=invoice, amount_cents=invoice.total_cents,
                                         received_on=timezone.localdate(), reference="PAID-S", actor=SYSTEM)
            print(f"B, G, S submitted {args.single} orders each; S paid; {load()}", flush=True)

            deadline = time.monotonic() + args.timeout
            total = args.burst + 3 * args.single
            while time.monotonic() < deadline:
                done = Order.objects.exclude(checked_at=None).count()
                if done >= total:
                    break
                time.sleep(1)
            elapsed = time.perf_counter() - t0
        finally:
            for process in processes:
                process.terminate()
            for process in processes:
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()
            app.control.purge()

    rows = list(Order.objects.values_list("partner_id", "reference", "submitted_at", "checked_at", "queue",
                                          "dispatch_state"))
    names = {partner.pk: name for name, (partner, _i) in partners.items()}
    delays: dict[str, list[float]] = {name: [] for name in partners}
    for partner_id, _reference, submitted_at, checked_at, _queue, _state in rows:
        if checked_at:
            delays[names[partner_id]].append((checked_at - submitted_at).total_seconds())
    unchecked = Order.objects.filter(checked_at=None).values("partner_id").annotate(n=Count("pk"))
    b_orders = Order.objects.filter(partner=partners["B"][0])
    b_last_checked = max(b_orders.values_list("checked_at", flat=True), default=None)
    b_first_submitted = min(b_orders.values_list("submitted_at", flat=True))
    a_orders = Order.objects.filter(partner=partners["A"][0])
    a_pending_at_b = a_orders.filter(Q(checked_at=None) | Q(checked_at__gt=b_first_submitted)).count()
    a_after_b = a_orders.filter(checked_at__gt=b_last_checked).count() if b_last_checked else 0
    s_after_payment = [(checked_at - paid_at).total_seconds() for checked_at in
                       Order.objects.filter(partner=partners["S"][0]).exclude(checked_at=None)
                       .values_list("checked_at", flat=True)]
    a_last = max(a_orders.values_list("checked_at", flat=True), default=None)
    throughput = len([r for r in rows if r[3]]) / elapsed

    print()
    print(f"== fairness: A submits {args.burst}, then B {args.single}; real workers "
          f"({args.order_workers} processes on priority, 1 on standard, 1 dispatcher), Redis broker, PostgreSQL ==")
    print(f"machine: {machine()}")
    print(f"{load()}; whole run {elapsed:.0f} s, {throughput:.0f} orders checked/s; "
          f"A's burst took {burst_s:.0f} s to submit; A's last order checked "
          f"{(a_last - b_first_submitted).total_seconds():.0f} s after B's first was submitted" if a_last else "")
    print(f"submission -> checks done, A (the burst) : {describe(delays['A'])}")
    print(f"submission -> checks done, B             : {describe(delays['B'])}")
    print(f"  when B submitted, {a_pending_at_b} of A's orders were still waiting; {a_after_b} of them were "
          f"checked after B's last order")
    print("per standing, submission -> checks done:")
    print(f"  active    (A+B, priority queue) : {describe(delays['A'] + delays['B'])}")
    print(f"  grace     (G, standard queue)   : {describe(delays['G'])}")
    print(f"  suspended (S, held until paid)  : {describe(delays['S'])}")
    print(f"  suspended, payment -> checked   : {describe(s_after_payment)}")
    if unchecked:
        print(f"not checked before the timeout: {list(unchecked)}")
    held = Order.objects.filter(dispatch_state=DispatchState.HELD).count()
    if held:
        print(f"still held: {held}")


if __name__ == "__main__":
    main()
