# ruff: noqa: S603 (a bench script: it runs fixed local commands, gunicorn, psql, pgbench)
"""Stock feed benchmark, with the performance anchors in the same sitting (prints figures, asserts nothing).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bigstock_feedbench REDIS_URL=redis://127.0.0.1:6379/12 \\
        .venv/bin/python bench/stock_feed.py [--products 50000] [--duration 20] [--repeats 3] [--no-anchors]

1. Seeds a fresh database (its name must contain "bench"): 50,000 products over two warehouses,
   each level with its receipt in the ledger, and 8 partners with a read API key each.
2. Counts SQL statements per call in-process (page of 10, 100 and 1000; a delta call).
3. Starts gunicorn (2 sync workers, DEBUG off) and drives it with ``../shared/anchors/http/load.py``
   and ``bench/bigstock_scenarios.py``, 8 clients: a feed page of 100 at a random place, the same
   page revalidated with its ETag (304), then a delta call (``changes_since``) after 500 changes.
4. Runs the anchors (``pg/run_pgbench.sh`` read_feed and the plain Django floor's feed page through
   the same load generator) and prints ours next to theirs with the ratios the goals use
   (``../shared/anchors/README.md``: feed page >= 2x the floor, <= 3 statements).

The load generator, gunicorn and PostgreSQL share the machine, as in the anchors' own figures.
"""

import argparse
import json
import os
import platform
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ANCHORS = (ROOT / ".." / "shared" / "anchors").resolve()
LOAD_PY = ANCHORS / "http" / "load.py"
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bigstock.settings")
os.environ.setdefault("SECRET_KEY", "bench-only")
os.environ.setdefault("SECURE_SSL_REDIRECT", "0")
os.environ.setdefault("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver")
os.environ.setdefault("LOG_LEVEL", "WARNING")

PARTNERS = 8  # one API key per simulated partner system (8 clients)
WAREHOUSES = ("lyon", "lille")
PSQL = ["psql", "-h", "127.0.0.1", "-U", "postgres", "-X", "-q", "-v", "ON_ERROR_STOP=1"]


# --- The machine ----------------------------------------------------------------------------------


def machine() -> str:
    model = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = ""
    try:
        kib = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text()).group(1))
        memory = f", {kib / 1024 / 1024:.0f} GiB RAM"
    except (OSError, AttributeError):
        pass
    return f"{model}, {os.cpu_count()} cores{memory}, Python {platform.python_version()}"


def say(text: str) -> None:
    print(text, flush=True)


# --- Database -------------------------------------------------------------------------------------


def admin_url() -> str:
    """The server's ``postgres`` database, as the user of DATABASE_URL (a superuser here)."""
    return os.environ["DATABASE_URL"].rsplit("/", 1)[0] + "/postgres"


def ensure_database(url: str) -> None:
    """Create the bench database if it is missing (the URL's user must be allowed to)."""
    import psycopg

    name = url.rsplit("/", 1)[1].split("?")[0]
    if "bench" not in name:
        sys.exit(f"refusing to reset database {name!r}: its name must contain 'bench'")
    with psycopg.connect(admin_url(), autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def reset_and_seed(products: int) -> None:
    from django.core.management import call_command
    from django.db import connection

    if "inventory_product" in connection.introspection.table_names():
        call_command("flush", interactive=False, verbosity=0)
    call_command("migrate", verbosity=0, skip_checks=True)
    seed(products)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")


def seed(n: int) -> None:
    """``n`` products over two warehouses, each level's stock received through the ledger (bulk,
    the way the ledger would hold it), and the feed rows in step; 8 partners with a read key."""
    from django.db import transaction
    from django.utils import timezone

    from inventory.models import Product, ProductAvailability, StockLevel, StockMovement, Warehouse

    rng = random.Random(7)
    t0 = time.perf_counter()
    with transaction.atomic():
        warehouses = [Warehouse.objects.create(code=code, name=code.title()) for code in WAREHOUSES]
        products = Product.objects.bulk_create([
            Product(sku=f"SKU-{i:06d}", name_fr=f"Produit {i}", name_en=f"Product {i}", weight_g=rng.randint(50, 5000),
                    wholesale_price_cents=rng.randint(100, 50_000), retail_price_cents=rng.randint(200, 90_000),
                    brand=f"Marque {i % 40}", category=f"Catégorie {i % 25}")
            for i in range(n)
        ], batch_size=5000)
        levels = StockLevel.objects.bulk_create([
            StockLevel(product=product, warehouse=warehouse, on_hand=rng.choice((0, rng.randint(1, 500))))
            for product in products for warehouse in warehouses
        ], batch_size=5000)
        movements = StockMovement.objects.bulk_create([
            StockMovement(level=level, kind=StockMovement.Kind.RECEIPT, on_hand_delta=level.on_hand,
                          on_hand_after=level.on_hand, reserved_after=0, actor_label="bench seed")
            for level in levels if level.on_hand
        ], batch_size=5000)
        StockMovement.objects.update(created_at=timezone.now() - timedelta(hours=1))
        totals: dict[int, list[int]] = {product.pk: [0, 0] for product in products}
        for movement in movements:
            level = movement.level
            totals[level.product_id][0] += level.on_hand
            totals[level.product_id][1] = max(totals[level.product_id][1], movement.pk)
        ProductAvailability.objects.bulk_create([
            ProductAvailability(product=product, sku=product.sku, on_hand=totals[product.pk][0],
                                available=totals[product.pk][0], change_seq=totals[product.pk][1])
            for product in products
        ], batch_size=5000)
    say(f"seeded {n} products, {len(levels)} levels, {len(movements)} movements in {time.perf_counter() - t0:.0f} s")


def make_keys(path: Path) -> None:
    from partners import services
    from partners.audit import SYSTEM
    from partners.models import Membership, Partner, Role, User

    secrets, run = [], uuid.uuid4().hex[:8]
    for i in range(PARTNERS):
        partner = Partner.objects.create(legal_name=f"Bench {i}", siret="73282932000074", address_line1="1 rue",
                                         postcode="75001", city="Paris", country="FR",
                                         billing_email=f"bench{i}@bench.example", status="active")
        owner = Membership.objects.create(user=User.objects.create(email=f"bench-owner{i}-{run}@bench.example"),
                                          partner=partner, role=Role.OWNER)
        _key, secret = services.create_api_key(partner=partner, membership=owner, name="bench", scopes=["read"],
                                               expires_at=None, actor=SYSTEM)
        secrets.append(secret)
    path.write_text("\n".join(secrets) + "\n")


# --- Statement counts (in-process, the same code path as gunicorn) ----------------------------------


def statements(url: str, secret: str) -> int:
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client(HTTP_AUTHORIZATION=f"Bearer {secret}")
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200, response.content[:300]
    return len(queries.captured_queries)


def fresh_key_statements(url: str) -> int:
    """With a key not used for a minute: its use is recorded (one UPDATE), the costliest case."""
    from partners import services
    from partners.audit import SYSTEM
    from partners.models import ApiKey, Membership

    owner = Membership.objects.filter(role="owner").select_related("partner").first()
    key, secret = services.create_api_key(partner=owner.partner, membership=owner, name="fresh", scopes=["read"],
                                          expires_at=None, actor=SYSTEM)
    count = statements(url, secret)
    ApiKey.objects.filter(pk=key.pk).delete()
    return count


# --- HTTP ---------------------------------------------------------------------------------------


class Server:
    """A gunicorn with 2 sync workers on loopback, stopped by its own pid; with ``config`` (BigStock's
    ``gunicorn.conf.py``) or gunicorn's defaults (the floor, as the anchors run it)."""

    def __init__(self, app: str, port: int, *, cwd: Path, env: dict, database: str, config: Path | None = None):
        self.port, self.database = port, database
        self.process = subprocess.Popen(
            [str(ROOT / ".venv" / "bin" / "gunicorn"), *(["-c", str(config)] if config else []), "-w", "2",
             "-b", f"127.0.0.1:{port}", "--chdir", str(cwd), "--log-level", "warning", app],
            env={**os.environ, **env}, cwd=cwd, start_new_session=True)
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1)
                return
            except urllib.error.HTTPError:
                return  # answering, even 404
            except OSError:
                time.sleep(0.3)
        raise RuntimeError(f"gunicorn did not start on port {port}")

    def pids(self) -> list[int]:
        """gunicorn's master and workers, and the PostgreSQL backends they hold open."""
        workers = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == self.process.pid:
                    workers.append(int(stat.parent.name))
            except (OSError, ValueError, IndexError):
                continue
        import psycopg

        with psycopg.connect(admin_url(), autocommit=True) as conn:
            backends = [pid for (pid,) in conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = %s", [self.database])]
        return [self.process.pid, *workers, *backends]

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def cpu_seconds(pids: list[int]) -> dict[int, float]:
    """CPU used so far by each process, with the children it reaped (a gunicorn worker replaced
    meanwhile still counts, through its master)."""
    used = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        used[pid] = sum(int(value) for value in fields[11:15]) / os.sysconf("SC_CLK_TCK")
    return used


def server_cpu_ms(server: Server, urls: list[str], headers: dict, *, requests: int = 3000) -> float:
    """CPU of gunicorn and its PostgreSQL backends per request, 8 clients: unlike the machine-wide
    figure of load.py, other work on the machine does not count (these machines are shared)."""
    import asyncio

    import aiohttp

    async def drive(count: int) -> None:
        rng = random.Random(3)
        async with aiohttp.ClientSession(f"http://127.0.0.1:{server.port}", headers=headers) as session:
            async def client(share: int) -> None:
                for _ in range(share):
                    async with session.get(rng.choice(urls)) as response:
                        await response.read()
                        if response.status != 200:
                            raise RuntimeError(f"{response.status} on {response.url}")
            await asyncio.gather(*(client(count // 8) for _ in range(8)))

    asyncio.run(drive(400))  # connections open, code warm
    before = cpu_seconds(server.pids())
    asyncio.run(drive(requests))
    after = cpu_seconds([*before, *server.pids()])
    return 1000 * sum(used - before.get(pid, 0) for pid, used in after.items()) / requests


def load(*, scenario: str, port: int, params: list[str], duration: float, ours: bool) -> dict:
    """One load.py run (8 clients, 3 s warm-up) and its figures. Ours: preload bench/bigstock_scenarios.py,
    which load.py would otherwise shadow with the anchors' file of the same name."""
    out = Path(tempfile.mkdtemp()) / "result.json"
    argv = ["--base", f"http://127.0.0.1:{port}", "--scenario", scenario, "--concurrency", "8",
            "--duration", str(duration), "--warmup", "3", "--repeats", "1", "--out", str(out)]
    for param in params:
        argv += ["--param", param]
    if ours:
        code = ("import runpy, sys; sys.path.insert(0, sys.argv[1]); import bigstock_scenarios; "
                "sys.argv = sys.argv[2:]; runpy.run_path(sys.argv[0], run_name='__main__')")
        command = [sys.executable, "-c", code, str(ROOT / "bench"), str(LOAD_PY), *argv]
    else:
        command = [sys.executable, str(LOAD_PY), *argv]
    subprocess.run(command, check=True, cwd=LOAD_PY.parent, stdout=subprocess.DEVNULL)
    result = json.loads(out.read_text())
    shutil.rmtree(out.parent, ignore_errors=True)
    run = result["runs"][0]
    return {**run["op"], "errors": sum(run["op_errors"].values()), "load": os.getloadavg()[0],
            "loadgen_cores": run["cpu"]["loadgen_cores"], "box_cores": run["cpu"]["box_busy_cores"]}


def medians(runs: list[dict]) -> dict:
    return {key: statistics.median(run[key] for run in runs)
            for key in ("rate", "p50_ms", "p99_ms", "loadgen_cores", "box_cores")}


# --- Anchors --------------------------------------------------------------------------------------


def anchors_ready() -> None:
    """The anchors' role and database, and their schema with 10,000 products."""
    subprocess.run([*PSQL, "-d", "postgres", "-c",
                    "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'bench') THEN "
                    "CREATE ROLE bench LOGIN PASSWORD 'bench'; END IF; END $$;",
                    "-c", "GRANT pg_checkpoint TO bench"], check=True)  # reset.sql runs CHECKPOINT
    exists = subprocess.run([*PSQL, "-d", "postgres", "-Atc",
                             "SELECT 1 FROM pg_database WHERE datname = 'bigstock_anchor'"],
                            check=True, capture_output=True, text=True).stdout.strip()
    if not exists:
        subprocess.run([*PSQL, "-d", "postgres", "-c", "CREATE DATABASE bigstock_anchor OWNER bench"], check=True)
    subprocess.run([str(ANCHORS / "pg" / "run_pgbench.sh"), "setup"], check=True)


def pgbench(script: str, *, duration: float) -> float:
    """Transactions/s of one anchor script run, 8 clients."""
    outdir = tempfile.mkdtemp()
    run = subprocess.run([str(ANCHORS / "pg" / "run_pgbench.sh")], check=True, capture_output=True, text=True,
                         env={**os.environ, "SCRIPTS": script, "CLIENTS": "8", "DURATION": str(int(duration)),
                              "REPEATS": "1", "OUTDIR": outdir})
    shutil.rmtree(outdir, ignore_errors=True)
    return float(re.search(rf"{script}\s+c=8\s+tps=\s*([\d.]+)", run.stdout).group(1))


class Floor:
    """The plain Django + DRF floor (../shared/anchors/floor) under gunicorn, 2 sync workers."""

    PORT = 8021

    def __init__(self):
        self.cwd = ANCHORS / "floor"
        self.token = Path(tempfile.mkdtemp()) / "floor_token.txt"
        env = {"BENCH_TOKEN_FILE": str(self.token), "PYTHONDONTWRITEBYTECODE": "1",
               "DJANGO_SETTINGS_MODULE": "floor.settings"}
        python = str(ROOT / ".venv" / "bin" / "python")
        subprocess.run([python, "manage.py", "migrate", "-v", "0"], check=True, cwd=self.cwd, env={**os.environ, **env})
        with open(self.cwd / "seed_token.py") as seed_script:
            subprocess.run([python, "manage.py", "shell"], stdin=seed_script, check=True, cwd=self.cwd,
                           env={**os.environ, **env}, capture_output=True)
        self.server = Server("floor.wsgi", self.PORT, cwd=self.cwd, env=env, database="bigstock_anchor")

    def load(self, scenario: str, *, duration: float) -> dict:
        return load(scenario=f"bigstock_scenarios:{scenario}", port=self.PORT, params=[f"token_file={self.token}"],
                    duration=duration, ours=False)

    def cpu_ms(self) -> float:
        urls = [f"/api/feed/?after=SKU-{i:06d}&limit=100" for i in range(0, 9900, 7)]
        return server_cpu_ms(self.server, urls, {"Authorization": f"Token {self.token.read_text().strip()}"})

    def stop(self) -> None:
        self.server.stop()
        shutil.rmtree(self.token.parent, ignore_errors=True)


def figure(name: str, op: dict, *, cpu_ms: float | None = None, extra: str = "") -> str:
    cpu = f"  server CPU {cpu_ms:.2f} ms/req" if cpu_ms is not None else ""
    return (f"  {name:<44} {op['rate']:7.0f} req/s  p50 {op['p50_ms']:6.1f} ms  p99 {op['p99_ms']:6.1f} ms"
            f"{cpu}  machine busy {op['box_cores']:.2f} cores, of which the load generator {op['loadgen_cores']:.2f}"
            f"{extra}")


# --- Main -----------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--products", type=int, default=50_000)
    parser.add_argument("--duration", type=float, default=20, help="seconds per measured run (default 20)")
    parser.add_argument("--repeats", type=int, default=3, help="rounds; medians are printed (default 3)")
    parser.add_argument("--changes", type=int, default=500, help="changes before the delta call (default 500)")
    parser.add_argument("--no-anchors", action="store_true", help="skip pgbench and the floor")
    parser.add_argument("--port", type=int, default=8020)
    args = parser.parse_args()

    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        sys.exit("bench/stock_feed.py measures PostgreSQL: set DATABASE_URL=postgres://.../bigstock_feedbench")
    ensure_database(url)
    import django

    django.setup()
    from django.db import connection

    from inventory import feed, services
    from inventory.models import Product, Warehouse
    from partners.audit import SYSTEM

    where = machine()
    say(f"machine: {where}; PostgreSQL {connection.cursor().connection.info.parameter_status('server_version')}")
    reset_and_seed(args.products)
    work = Path(tempfile.mkdtemp())
    keys, starts = work / "keys", work / "starts"
    make_keys(keys)
    secret = keys.read_text().split()[0]
    ours_params = [f"keys_file={keys}", f"starts_file={starts}"]

    statements("/api/v1/stock?limit=1", secret)  # the key, its first use and its plan's terms: then cached
    counts = {limit: statements(f"/api/v1/stock?limit={limit}", secret) for limit in (10, 100, 1000)}
    first_use = fresh_key_statements("/api/v1/stock?limit=100")
    say(f"statements per /stock page in steady use (the key and its plan cached a few seconds per process): "
        f"limit 10: {counts[10]}, 100: {counts[100]}, 1000: {counts[1000]}; a fresh key's first call: {first_use} "
        f"(the key read, its last use recorded; +1 when its partner's plan terms are not cached yet)")

    env = {"DEBUG": "0", "LOG_LEVEL": "WARNING", "API_KEY_RATE": "100000/s", "CONN_MAX_AGE": "600",
           "SECURE_HSTS_SECONDS": "0"}
    database = url.rsplit("/", 1)[1].split("?")[0]
    floor = None
    if not args.no_anchors:
        anchors_ready()
        floor = Floor()
    server = Server("bigstock.wsgi:application", args.port, cwd=ROOT, env=env, database=database,
                    config=ROOT / "gunicorn.conf.py")
    runs: dict[str, list] = {"pg": [], "floor": [], "feed": []}
    try:
        # Rounds interleave the three so that whatever else the machine does weighs on each alike.
        for round_ in range(1, args.repeats + 1):
            if floor is not None:
                runs["pg"].append(pgbench("read_feed", duration=args.duration))
                runs["floor"].append(floor.load("read_feed", duration=args.duration))
            runs["feed"].append(load(scenario="bigstock_scenarios:read_feed", port=args.port, params=ours_params,
                                     duration=args.duration, ours=True))
            say(f"round {round_}: " + ", ".join(
                f"{name} {run[-1] if name == 'pg' else run[-1]['rate']:.0f}/s" for name, run in runs.items() if run)
                + f" (load average {os.getloadavg()[0]:.1f})")
        starts_urls = starts.read_text().split()
        cpu = {"feed": server_cpu_ms(server, starts_urls, {"Authorization": f"Bearer {secret}"})}
        if floor is not None:
            cpu["floor"] = floor.cpu_ms()
        runs["feed_304"] = [load(scenario="bigstock_scenarios:read_feed_304", port=args.port,
                                 params=[*ours_params, "prefetch_etags=1"], duration=args.duration, ours=True)]

        since = feed.settled_change_cursor()
        lyon = Warehouse.objects.get(code="lyon")
        changed = random.Random(11).sample(range(args.products), args.changes)
        t0 = time.perf_counter()
        for product in Product.objects.filter(sku__in=[f"SKU-{i:06d}" for i in changed]):
            services.receive(product=product, warehouse=lyon, quantity=1, actor=SYSTEM)
        change_s = time.perf_counter() - t0
        time.sleep(feed.FEED_SETTLE_DELAY.total_seconds() + 0.5)
        delta_url = f"/api/v1/stock?changes_since={since}&limit=1000"
        delta_statements = statements(delta_url, secret)
        runs["delta"] = [load(scenario="bigstock_scenarios:read_delta", port=args.port,
                              params=[*ours_params, f"since={since}", f"delta_rows={args.changes}"],
                              duration=args.duration, ours=True) for _ in range(args.repeats)]
        cpu["delta"] = server_cpu_ms(server, [delta_url], {"Authorization": f"Bearer {secret}"}, requests=1000)
    finally:
        server.stop()
        if floor is not None:
            floor.stop()
        shutil.rmtree(work, ignore_errors=True)

    ours = medians(runs["feed"])
    say("")
    say(f"=== Stock feed: {args.products} products on PostgreSQL, gunicorn 2 sync workers, DEBUG off, 8 clients, "
        f"medians of {args.repeats} interleaved rounds of {args.duration:.0f} s")
    say(f"machine: {where}")
    say(figure("BigStock GET /api/v1/stock, page of 100", ours, cpu_ms=cpu["feed"],
               extra=f"  {counts[100]} statements ({first_use} on a key's first call)"))
    say(figure("  the same page revalidated: 304", medians(runs["feed_304"])))
    say(figure(f"BigStock delta after {args.changes} changes ({args.changes} rows)", medians(runs["delta"]),
               cpu_ms=cpu["delta"], extra=f"  {delta_statements} statements"))
    say(f"  ({args.changes} changes written through inventory.services.receive in {change_s:.1f} s)")
    if floor is not None:
        floor_feed, pg_tps = medians(runs["floor"]), statistics.median(runs["pg"])
        say(figure("floor GET /api/feed/, page of 100", floor_feed, cpu_ms=cpu["floor"],
                   extra="  3 statements (anchors README)"))
        say(f"  {'raw PostgreSQL read_feed.sql (pgbench)':<44} {pg_tps:7.0f} tx/s")
        say(f"ratios: BigStock / floor = {ours['rate'] / floor_feed['rate']:.2f}x in req/s, "
            f"{cpu['floor'] / cpu['feed']:.2f}x in server CPU per request (goal: >= 2x, <= 3 statements: "
            f"{counts[100]}); BigStock / raw PostgreSQL = {100 * ours['rate'] / pg_tps:.1f} %; "
            f"floor / raw PostgreSQL = {100 * floor_feed['rate'] / pg_tps:.1f} %")
    say(f"load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores "
        "(other work on the machine weighs on req/s; server CPU per request leaves it out)")


if __name__ == "__main__":
    main()
