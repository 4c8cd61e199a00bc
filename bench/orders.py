"""Throughput of the API's writes, with the anchors, in one sitting (prints figures, asserts
nothing): order creation through ``POST /api/v1/orders`` (``--operation order``, the default) or a
stock adjustment through the warehouse API's ``POST /api/v1/staff/stock/adjustments``, as a staff
token (``--operation adjust``, against the anchors' ``adjust_stock``).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bigstock_bench_orders REDIS_URL=redis://127.0.0.1:6379/12 \\
        .venv/bin/python bench/orders.py --duration 20 --repeats 3 [--operation adjust]

What it does, in order:

1. prints the machine (CPU model, cores, memory, load);
2. rebuilds the BigStock database named by DATABASE_URL (PostgreSQL only: it is flushed), seeds
   10,000 products with stock in one warehouse, an active partner on a plan and a write API key;
3. starts the plain-Django floor (``anchors/floor``, gunicorn 2 sync workers, on the raw anchor's
   database ``bigstock_anchor_orders``, created if missing) and BigStock (gunicorn 2 sync workers,
   DEBUG off);
4. runs ``--repeats`` rounds, each one run of: the raw PostgreSQL anchor
   (``anchors/pg/run_pgbench.sh`` create_order, 8 clients), the floor driven by
   ``anchors/http/load.py`` (bigstock_scenarios:create_order, 8 clients), and BigStock driven by the
   same ``load.py`` with this module as the scenario (3 lines, API key, Idempotency-Key, ledger,
   event and dispatch request written; no Celery worker runs, the dispatch requests wait in Redis
   and are purged after). Interleaved, so that the machine's drift weighs on the three alike;
5. prints the medians and the ratios against the goals (≥ 1.5x the floor, ≥ 8 % of raw
   PostgreSQL), and the SQL statements one order creation runs.

This file is also the ``load.py`` scenario module for our API: ``setup`` and ``create_order``
below import nothing from Django, and ``load.py`` finds them as ``orders`` with
``PYTHONPATH=bench``. Processes started here are stopped by their PID at the end.
"""

# A driver of local processes (psql, pgbench, gunicorn, load.py) with arguments it builds itself.
# ruff: noqa: S603, S607, S608

import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ANCHORS = Path(os.environ.get("BIGSTOCK_ANCHORS", "/work/shared/anchors"))
PYTHON = sys.executable
GOAL_FLOOR_RATIO = 1.5  # both operations; order creation also ≥ 8 % of raw PostgreSQL
OPERATIONS = {
    "order": {"title": "order creation, 3 lines", "path": "/api/v1/orders", "scenario": "create_order",
              "anchor": "create_order", "floor_path": "/api/orders/", "pg_share": 0.08},
    "adjust": {"title": "stock adjustment", "path": "/api/v1/staff/stock/adjustments", "scenario": "adjust_stock",
               "anchor": "adjust_stock", "floor_path": "/api/stock/adjust/", "pg_share": None},
}
SHIP_TO = {"name": "Jeanne Martin", "line1": "5 rue des Lilas", "postcode": "69003", "city": "Lyon",
           "country": "FR", "phone": "+33612345678"}


# --- The load.py scenario (no Django here) ---------------------------------------------------------


async def setup(session, ctx):
    params = ctx["params"]
    if "token_file" in params:  # the warehouse API: a staff user's token
        with open(params["token_file"]) as fh:
            authorization = f"Token {fh.read().strip()}"
    else:
        with open(params["key_file"]) as fh:
            authorization = f"Bearer {fh.read().strip()}"
    session.headers.update({"Authorization": authorization, "Accept": "application/json"})
    ctx["n"] = int(params.get("skus", 10_000))
    ctx["run"] = uuid.uuid4().hex[:8]  # load.py seeds its clients alike on each start: references stay unique


def _sku(i: int) -> str:
    return f"SKU-{i:06d}"


async def create_order(session, ctx, rng, rec):
    """One order of 3 distinct SKUs, 1 to 5 units each, with a fresh reference and Idempotency-Key."""
    reference = f"{ctx['run']}-{uuid.UUID(int=rng.getrandbits(128))}"
    skus = rng.sample(range(1, ctx["n"] + 1), 3)
    await rec.request(session, "POST", "/api/v1/orders", name="POST /api/v1/orders", expect=(201,),
                      headers={"Idempotency-Key": reference},
                      json={"reference": reference, "ship_to": SHIP_TO,
                            "lines": [{"sku": _sku(i), "quantity": rng.randint(1, 5)} for i in skus]})


async def adjust_stock(session, ctx, rng, rec):
    """One adjustment of a random SKU, as the anchors' (a delta of -5 to 10 units; 0, which we refuse, is 1)."""
    await rec.request(session, "POST", "/api/v1/staff/stock/adjustments", name="POST /api/v1/staff/stock/adjustments",
                      expect=(201,), json={"sku": _sku(rng.randint(1, ctx["n"])), "warehouse": "lyon",
                                           "delta": rng.randint(-5, 10) or 1, "reason": "count"})


# --- The sitting ---------------------------------------------------------------------------------


def machine() -> str:
    model = platform.processor() or ""
    try:
        with open("/proc/cpuinfo") as fh:
            model = next((line.split(":", 1)[1].strip() for line in fh if line.startswith("model name")), model)
        with open("/proc/meminfo") as fh:
            mem_gb = int(fh.readline().split()[1]) / 1024 / 1024
    except OSError:
        mem_gb = 0
    return (f"{model}, {os.cpu_count()} cores, {mem_gb:.0f} GB RAM, Linux {platform.release()}, "
            f"Python {platform.python_version()}")


def load() -> str:
    return "load average {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())


def wait_until_quiet(max_load: float, max_wait_s: float) -> None:
    """Other jobs on the box skew every figure: wait (a while) for the 1-minute load to drop."""
    deadline = time.monotonic() + max_wait_s
    while os.getloadavg()[0] > max_load and time.monotonic() < deadline:
        time.sleep(10)
    print(f"[{time.strftime('%H:%M:%S')}] {load()}", flush=True)


def psql(database: str, sql: str, *, user: str = "postgres") -> str:
    return subprocess.run(["psql", "-h", "127.0.0.1", "-U", user, "-d", database, "-Atc", sql], check=True,
                          capture_output=True, text=True).stdout.strip()


def ensure_database(name: str) -> None:
    if not psql("postgres", f"SELECT 1 FROM pg_database WHERE datname = '{name}'"):
        psql("postgres", f'CREATE DATABASE "{name}"')


def wait_http(url: str, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2):  # noqa: S310 (loopback only)
                return
        except OSError:
            time.sleep(0.3)
    raise SystemExit(f"nothing answered at {url}")


def start(command: list[str], *, env: dict, cwd: Path, log: Path) -> subprocess.Popen:
    return subprocess.Popen(command, env=env, cwd=cwd, stdout=log.open("w"), stderr=subprocess.STDOUT)


def stop(process: subprocess.Popen | None) -> None:
    if process is not None and process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


def run_load(*, base: str, scenario: str, params: list[str], args, out: Path, pythonpath: str = "",
             repeats: int | None = None) -> tuple[float, float, float]:
    """``anchors/http/load.py``; returns the median operations per second, p50 (ms) and server CPU
    per operation (ms)."""
    env = {**os.environ, "PYTHONPATH": pythonpath} if pythonpath else dict(os.environ)
    command = [PYTHON, str(ANCHORS / "http" / "load.py"), "--base", base, "--scenario", scenario,
               "--concurrency", str(args.clients), "--duration", str(args.duration), "--warmup", str(args.warmup),
               "--repeats", str(repeats or args.repeats), "--out", str(out)]
    for param in params:
        command += ["--param", param]
    subprocess.run(command, env=env, check=True)
    result = json.loads(out.read_text())
    if result.get("error_samples"):
        print("  errors:", *result["error_samples"], sep="\n    ")
    return result["median"]["op"]["rate"], result["median"]["op"]["p50_ms"], result["median"]["op"][
        "server_cpu_ms_per_op"]


def _anchor_db_env(args) -> dict:
    """The environment reaching the anchor's database (pgbench and the floor read PG*)."""
    return {**os.environ, "PGHOST": "127.0.0.1", "PGUSER": "postgres", "PGPASSWORD": "", "PGDATABASE": args.anchor_db}


def _pgbench_env(args, workdir: Path) -> dict:
    return {**_anchor_db_env(args), "SCRIPTS": OPERATIONS[args.operation]["anchor"], "CLIENTS": str(args.clients),
            "DURATION": str(int(args.duration)), "REPEATS": "1", "OUTDIR": str(workdir / "pg")}


def setup_anchor_database(args, workdir: Path) -> None:
    """The raw anchor's database and tables (10,000 products), which the floor uses too: created
    (or recreated) before either runs."""
    ensure_database(args.anchor_db)
    subprocess.run([str(ANCHORS / "pg" / "run_pgbench.sh"), "setup"], env=_pgbench_env(args, workdir), check=True,
                   capture_output=True)


def pg_anchor(args, workdir: Path) -> float:
    """One pgbench run of the anchors' script for the operation."""
    run = subprocess.run([str(ANCHORS / "pg" / "run_pgbench.sh")], env=_pgbench_env(args, workdir),
                         capture_output=True, text=True)
    if run.returncode:
        raise SystemExit(f"run_pgbench.sh failed:\n{run.stdout}\n{run.stderr}")
    output = run.stdout
    match = re.search(rf"{OPERATIONS[args.operation]['anchor']}\s+c={args.clients}\s+tps=\s*([\d.]+)", output)
    if not match:
        raise SystemExit(f"no pgbench median in:\n{output}")
    return float(match.group(1))


def prepare_floor(args, workdir: Path) -> tuple[dict, Path]:
    """The plain Django + DRF floor's own tables (auth, its token) on the anchor database, its
    orders emptied and its stock refilled; returns its environment and its token's file."""
    floor = ANCHORS / "floor"
    token = workdir / "floor_token.txt"
    env = {**_anchor_db_env(args), "BENCH_TOKEN_FILE": str(token), "PYTHONPATH": str(floor),
           "DJANGO_SETTINGS_MODULE": "floor.settings"}
    subprocess.run([PYTHON, "manage.py", "migrate", "-v", "0"], cwd=floor, env=env, check=True)
    with open(floor / "seed_token.py") as seed:
        subprocess.run([PYTHON, "manage.py", "shell"], cwd=floor, env=env, stdin=seed, check=True,
                       capture_output=True)
    psql(args.anchor_db, "TRUNCATE order_line, orders, stock_movement RESTART IDENTITY; "
                         "UPDATE stock_level SET on_hand = 1000000, reserved = 0")
    return env, token


def floor_server(args, workdir: Path) -> tuple[subprocess.Popen, Path]:
    """The floor (``prepare_floor``) under gunicorn, 2 sync workers, running; with its token's file."""
    env, token = prepare_floor(args, workdir)
    server = start([str(Path(PYTHON).parent / "gunicorn"), "-w", "2", "-b", f"127.0.0.1:{args.floor_port}",
                    "--log-level", "warning", "floor.wsgi"], env=env, cwd=ANCHORS / "floor",
                   log=workdir / "floor.log")
    _wait_port(args.floor_port)
    return server, token


def _wait_port(port: int, timeout_s: float = 60) -> None:
    import socket

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.3)
    raise SystemExit(f"nothing listens on port {port}")


def seed_bigstock(args, key_file: Path, token_file: Path) -> int:
    """Flush and migrate the BigStock database, seed the catalogue, a partner and its key
    (``key_file``), and a staff user allowed to change stock with a token (``token_file``).
    Returns the statements one call of ``args.operation`` runs (in-process, with the test client)."""
    import django

    django.setup()
    import logging

    from django.core.management import call_command
    from django.db import connection

    logging.disable(logging.INFO)

    if connection.vendor != "postgresql":
        raise SystemExit("bench/orders.py measures PostgreSQL: set DATABASE_URL=postgres://...")
    ensure_database(connection.settings_dict["NAME"])
    if "orders_order" in connection.introspection.table_names():
        call_command("flush", interactive=False, verbosity=0)
    call_command("migrate", verbosity=0)

    from inventory import services as inventory
    from inventory.models import Product, Warehouse
    from partners import services as partners
    from partners.audit import SYSTEM
    from partners.models import Membership, Partner, Role, User
    from subscriptions import periods, standing
    from subscriptions.models import Plan, Subscription

    t0 = time.perf_counter()
    warehouse = Warehouse.objects.create(code="lyon", name="Lyon")
    if hasattr(inventory, "apply_batch"):  # the import's bulk services: seconds for 10,000 products
        created = inventory.create_products(products=[
            Product(sku=_sku(i), name_fr=f"Produit {i}", name_en=f"Product {i}", wholesale_price_cents=1000,
                    weight_g=300) for i in range(1, args.skus + 1)])
        inventory.apply_batch(kind="receipt", actor=SYSTEM, changes=[
            inventory.BatchChange(product.pk, warehouse.pk, 1_000_000) for product in created])
    else:
        for i in range(1, args.skus + 1):
            product = inventory.create_product(sku=_sku(i), name_fr=f"Produit {i}", name_en=f"Product {i}",
                                               wholesale_price_cents=1000, weight_g=300)
            inventory.receive(product=product, warehouse=warehouse, quantity=1_000_000, actor=SYSTEM)
    partner = Partner.objects.create(legal_name="Bench SAS", siret="73282932000074", address_line1="1 rue",
                                     postcode="75001", city="Paris", country="FR",
                                     billing_email="bench@bench.example", status=Partner.Status.ACTIVE)
    owner = Membership.objects.create(user=User.objects.create(email="owner@bench.example"), partner=partner,
                                      role=Role.OWNER)
    plan = Plan.objects.create(code="bench", name_fr="Bench", name_en="Bench", price_cents=9900,
                               included_orders=1_000_000, team_seats=1, api_rate_per_min=1_000_000,
                               support_first_response_hours=1, support_resolution_hours=1)
    month_start, month_end = periods.month_of(periods.today())
    Subscription.objects.create(partner=partner, plan=plan, status="active", started_on=month_start,
                                current_period_start=month_start, current_period_end=month_end)
    standing.refresh(partner=partner)
    _key, secret = partners.create_api_key(partner=partner, membership=owner, name="bench", scopes=["read", "write"],
                                           expires_at=None, actor=SYSTEM)
    key_file.write_text(secret)
    # The warehouse API's caller: a staff user allowed to change stock, with a token.
    from django.contrib.auth.models import Permission
    from knox.models import AuthToken

    staff = User.objects.create_user(email="wms@bigstock.example", password=None, is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="change_stocklevel"))
    token_file.write_text(AuthToken.objects.create(user=staff, expiry=None)[1])
    print(f"seeded {args.skus} products, 1 partner and its key, a staff token in {time.perf_counter() - t0:.1f} s",
          flush=True)
    return _statements_per_call((token_file if args.operation == "adjust" else key_file).read_text(), args.operation)


def _statements_per_call(secret: str, operation: str) -> int:
    """SQL statements of one call, in-process (the third of three: the caches warm)."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    url = OPERATIONS[operation]["path"]
    client = Client(HTTP_AUTHORIZATION=f"{'Token' if operation == 'adjust' else 'Bearer'} {secret}")
    counts = []
    for i in range(3):
        if operation == "adjust":
            body = {"sku": _sku(1 + i), "warehouse": "lyon", "delta": 2, "reason": "count"}
        else:
            body = {"reference": f"COUNT-{i}", "ship_to": SHIP_TO,
                    "lines": [{"sku": _sku(n), "quantity": 1} for n in (1 + i, 100 + i, 200 + i)]}
        # As the load sends them: orders with an Idempotency-Key, adjustments without (as the anchors').
        headers = {} if operation == "adjust" else {"HTTP_IDEMPOTENCY_KEY": f"count-{i}"}
        with CaptureQueriesContext(connection) as captured:
            response = client.post(url, body, content_type="application/json", SERVER_NAME="127.0.0.1", **headers)
        if response.status_code != 201:
            raise SystemExit(f"POST {url} answered {response.status_code}: {response.content[:300]!r}")
        counts.append(len(captured.captured_queries))
    connection.close()
    return counts[-1]


def served_env() -> dict:
    """BigStock's environment as the benches serve it: DEBUG off, rate limits that still run (their
    Redis round trips count) but never refuse."""
    return {**os.environ, "DEBUG": "0", "ALLOWED_HOSTS": "127.0.0.1,localhost", "SECURE_SSL_REDIRECT": "0",
            "API_KEY_RATE": "100000000/min", "API_USER_RATE": "100000000/min",
            "SECRET_KEY": os.environ.get("SECRET_KEY", "bench-only-not-secret"), "PYTHONPATH": str(ROOT),
            "DJANGO_SETTINGS_MODULE": "bigstock.settings"}


def bigstock_server(args, workdir: Path) -> subprocess.Popen:
    """BigStock under gunicorn, 2 sync workers, DEBUG off, running."""
    env = served_env()
    server = start([str(Path(PYTHON).parent / "gunicorn"), "-c", str(ROOT / "gunicorn.conf.py"), "-w", "2",
                    "-b", f"127.0.0.1:{args.port}", "--log-level", "warning", "bigstock.wsgi"], env=env, cwd=ROOT, log=workdir / "bigstock.log")
    wait_http(f"http://127.0.0.1:{args.port}/healthz")
    return server


def _purge_dispatch_requests() -> None:
    from bigstock.celery import app

    app.control.purge()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--operation", choices=sorted(OPERATIONS), default="order",
                        help="order: POST /api/v1/orders; adjust: POST /api/v1/staff/stock/adjustments")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--duration", type=int, default=20)
    parser.add_argument("--warmup", type=float, default=5)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skus", type=int, default=10_000)
    parser.add_argument("--port", type=int, default=8110)
    parser.add_argument("--floor-port", type=int, default=8111)
    parser.add_argument("--anchor-db", default="bigstock_anchor_orders")
    parser.add_argument("--skip-anchors", action="store_true")
    parser.add_argument("--max-load", type=float, default=1.0, help="wait for the 1-minute load to drop below")
    parser.add_argument("--max-wait", type=float, default=300, help="... for at most this many seconds")
    args = parser.parse_args()

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bigstock.settings")
    os.environ.setdefault("SECRET_KEY", "bench-only-not-secret")
    os.environ.setdefault("SECURE_SSL_REDIRECT", "0")
    os.environ["DEBUG"] = "0"
    os.environ["ALLOWED_HOSTS"] = "127.0.0.1,localhost"
    os.environ["API_KEY_RATE"] = os.environ["API_USER_RATE"] = "100000000/min"  # the in-process count too
    sys.path.insert(0, str(ROOT))
    print(f"machine: {machine()}", flush=True)
    operation = OPERATIONS[args.operation]
    runs: dict[str, list] = {"pg": [], "floor": [], "ours": []}
    with tempfile.TemporaryDirectory(prefix="bench-orders-") as tmp:
        workdir = Path(tmp)
        key_file, token_file = workdir / "api_key.txt", workdir / "staff_token.txt"
        statements = seed_bigstock(args, key_file, token_file)
        floor_process = ours_process = None
        try:
            if not args.skip_anchors:
                setup_anchor_database(args, workdir)
                floor_process, token = floor_server(args, workdir)
            ours_process = bigstock_server(args, workdir)
            # Rounds interleave the three, so that whatever else the machine does meanwhile (its speed
            # drifts by a third within minutes) weighs on each alike; medians of the rounds are printed.
            for round_ in range(1, args.repeats + 1):
                wait_until_quiet(args.max_load, args.max_wait)
                if not args.skip_anchors:
                    runs["pg"].append(pg_anchor(args, workdir))
                    runs["floor"].append(run_load(
                        base=f"http://127.0.0.1:{args.floor_port}", scenario=f"bigstock_scenarios:{operation['anchor']}",
                        params=[f"token_file={token}"], args=args, out=workdir / "floor.json", repeats=1))
                runs["ours"].append(run_load(
                    base=f"http://127.0.0.1:{args.port}", scenario=f"orders:{operation['scenario']}",
                    params=[f"token_file={token_file}" if args.operation == "adjust" else f"key_file={key_file}",
                            f"skus={args.skus}"], args=args, out=workdir / "bigstock.json",
                    pythonpath=str(Path(__file__).parent), repeats=1))
                print(f"round {round_}: " + ", ".join(
                    f"{name} {run[-1] if name == 'pg' else run[-1][0]:.0f}/s" for name, run in runs.items() if run),
                    flush=True)
        finally:
            stop(ours_process)
            stop(floor_process)
            _purge_dispatch_requests()

    def median(name: str) -> tuple:
        return tuple(statistics.median(column) for column in zip(*runs[name], strict=True))

    ours = median("ours")
    pg = statistics.median(runs["pg"]) if runs["pg"] else None
    floor = median("floor") if runs["floor"] else None
    print()
    print(f"== {operation['title']}, {args.clients} clients, medians of {args.repeats} interleaved rounds of "
          f"{args.duration:.0f} s ==")
    print(f"machine: {machine()}")
    print(f"BigStock POST {operation['path']} (gunicorn 2 workers, DEBUG off): {ours[0]:7.0f} /s  p50 {ours[1]:.1f} ms  "
          f"server CPU {ours[2]:.1f} ms/call  {statements} SQL statements/call")
    if floor:
        print(f"floor    POST {operation['floor_path']} (gunicorn 2 workers): {floor[0]:7.0f} /s  p50 {floor[1]:.1f} ms  "
              f"server CPU {floor[2]:.1f} ms/call")
        ratio = ours[0] / floor[0]
        print(f"  BigStock / floor = {ratio:.2f}x  (goal ≥ {GOAL_FLOOR_RATIO}x: {'met' if ratio >= GOAL_FLOOR_RATIO else 'NOT met'})")
    if pg:
        print(f"raw PostgreSQL {operation['anchor']}.sql (pgbench): {pg:7.0f} tps")
        share = ours[0] / pg
        goal = operation["pg_share"]
        print(f"  BigStock / raw PostgreSQL = {100 * share:.1f} %" + (
            f"  (goal ≥ {100 * goal:.0f} %: {'met' if share >= goal else 'NOT met'})" if goal else ""))
        if floor:
            print(f"  floor / raw PostgreSQL = {100 * floor[0] / pg:.1f} %")


if __name__ == "__main__":
    main()
