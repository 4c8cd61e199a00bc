"""CPU instructions per request of the hot operations, BigStock's and the plain-Django floor's,
counted by valgrind (prints figures, asserts nothing).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bigstock_bench_orders REDIS_URL=redis://127.0.0.1:6379/12 \\
        .venv/bin/python bench/instructions.py [--requests 100] [--operations order adjust feed]

Requests per second on these shared 2-core machines move by a third within minutes, so a change
worth 5 % cannot be seen in them. An instruction count can: valgrind's callgrind counts the
instructions the application's process runs, the same to about 1 % from one run to the next
whatever else the machine does. What it leaves out: PostgreSQL's own CPU, the kernel's (sockets,
the round trips) and the HTTP server's. It is a measure of the Python side only, which is
most of the server's CPU on these paths; the goals themselves stay in ``bench/orders.py`` and
``bench/stock_feed.py`` (requests per second, in one sitting).

What it does:

1. seeds BigStock's database as ``bench/orders.py`` does (10,000 products, a partner and its API
   key, a staff token; the database named by DATABASE_URL is flushed) and the floor's (the
   anchors' tables on ``bigstock_anchor_orders``, its token);
2. for each operation and each side, runs a process under ``valgrind --tool=callgrind`` that
   calls the WSGI application directly (no HTTP server): a warm-up of ``--warmup`` requests
   uncounted, then ``--requests`` counted;
3. prints instructions per request, ours against the floor's.

Operations: ``order`` (``POST /api/v1/orders``, 3 lines, API key and Idempotency-Key, against the
floor's ``POST /api/orders/``), ``adjust`` (the warehouse API's adjustment, a staff token, against
``POST /api/stock/adjust/``), ``feed`` (the first page of 100 of ``GET /api/v1/stock`` against the
floor's ``GET /api/feed/?limit=100``).

The counted process skips the Celery task that asks for a dispatch after an order (the
dispatcher runs elsewhere; under load it is queued about once a second whatever the rate, but
valgrind slows the process so much that it would be counted on most orders).
"""

# A driver of local processes (valgrind, callgrind_control) with arguments it builds itself.
# ruff: noqa: S603, S607

import argparse
import importlib.util
import io
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable


def _bench_orders():
    """bench/orders.py, loaded by path (its module name would be BigStock's ``orders`` app)."""
    spec = importlib.util.spec_from_file_location("bench_orders", Path(__file__).with_name("orders.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --- The counted process ---------------------------------------------------------------------------


def _requests(side: str, operation: str, secret: str, rng: random.Random):
    """WSGI environ factories for one operation, as the load generator's requests."""
    bench = _bench_orders()
    run = uuid.uuid4().hex[:8]

    def environ(method: str, path: str, body: dict | None, authorization: str, query: str = "", **headers) -> dict:
        raw = json.dumps(body).encode() if body is not None else b""
        return {"REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": query, "SCRIPT_NAME": "",
                "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "80", "wsgi.url_scheme": "http",
                "wsgi.input": io.BytesIO(raw), "wsgi.errors": sys.stderr, "CONTENT_LENGTH": str(len(raw)),
                "CONTENT_TYPE": "application/json", "HTTP_ACCEPT": "application/json",
                "HTTP_AUTHORIZATION": authorization, **headers}

    def order(i: int) -> dict:
        skus = [bench._sku(n) for n in rng.sample(range(1, 10_001), 3)]
        reference = f"{run}-{i}"
        if side == "floor":
            return environ("POST", "/api/orders/", {"external_ref": reference, "lines": [
                {"sku": sku, "qty": rng.randint(1, 5)} for sku in skus]}, f"Token {secret}")
        return environ("POST", "/api/v1/orders", {"reference": reference, "ship_to": bench.SHIP_TO, "lines": [
            {"sku": sku, "quantity": rng.randint(1, 5)} for sku in skus]}, f"Bearer {secret}",
            HTTP_IDEMPOTENCY_KEY=reference)

    def adjust(i: int) -> dict:
        body = {"sku": bench._sku(rng.randint(1, 10_000)), "delta": rng.randint(-5, 10) or 1, "reason": "count"}
        if side == "floor":
            return environ("POST", "/api/stock/adjust/", body, f"Token {secret}")
        return environ("POST", "/api/v1/staff/stock/adjustments", {**body, "warehouse": "lyon"}, f"Token {secret}")

    def feed(i: int) -> dict:
        if side == "floor":
            return environ("GET", "/api/feed/", None, f"Token {secret}", query="after=&limit=100")
        return environ("GET", "/api/v1/stock", None, f"Bearer {secret}", query="limit=100")

    return {"order": order, "adjust": adjust, "feed": feed}[operation]


def child(args) -> None:
    """Runs in valgrind: the application in this process, its requests counted between the two
    ``callgrind_control`` calls."""
    if args.side == "floor":
        sys.path.insert(0, str(Path(os.environ["BIGSTOCK_ANCHORS"]) / "floor"))
    else:
        sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.handlers.wsgi import WSGIHandler

    if args.side == "ours":
        from orders import tasks

        tasks.dispatch_orders.delay = lambda *a, **k: None  # see the module's docstring
    application = WSGIHandler()
    request = _requests(args.side, args.operation, Path(args.secret_file).read_text().strip(), random.Random(7))

    def call(i: int) -> None:
        statuses = []
        body = b"".join(application(request(i), lambda status, headers, *rest: statuses.append(status)))
        if not statuses[0].startswith(("200", "201")):
            raise SystemExit(f"{args.side} {args.operation}: {statuses[0]} {body[:300]!r}")

    for i in range(args.warmup):
        call(i)
    subprocess.run(["callgrind_control", "--instr=on", str(os.getpid())], check=True, capture_output=True)
    for i in range(args.requests):
        call(args.warmup + i)
    subprocess.run(["callgrind_control", "--instr=off", str(os.getpid())], check=True, capture_output=True)


# --- The driver ------------------------------------------------------------------------------------


def count(side: str, operation: str, *, env: dict, secret_file: Path, args, workdir: Path) -> float:
    """Instructions per request of ``operation`` on ``side``, in a process of its own under callgrind."""
    command = ["valgrind", "--tool=callgrind", "--instr-atstart=no",
               f"--callgrind-out-file={workdir / f'callgrind.{side}.{operation}.out'}",
               PYTHON, str(Path(__file__).resolve()), "--child", "--side", side, "--operation", operation,
               "--secret-file", str(secret_file), "--requests", str(args.requests), "--warmup", str(args.warmup)]
    run = subprocess.run(command, env=env, capture_output=True, text=True)
    match = re.search(r"Collected : (\d+)", run.stderr)
    if run.returncode or not match:
        raise SystemExit(f"valgrind {side} {operation} failed:\n{run.stdout[-2000:]}\n{run.stderr[-3000:]}")
    return int(match.group(1)) / args.requests


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--operations", nargs="+", choices=["order", "adjust", "feed"],
                        default=["order", "adjust", "feed"])
    parser.add_argument("--requests", type=int, default=100, help="counted requests per operation and side")
    parser.add_argument("--warmup", type=int, default=50, help="uncounted requests first (caches, prepared statements)")
    parser.add_argument("--anchor-db", default="bigstock_anchor_orders")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--side", choices=["ours", "floor"], help=argparse.SUPPRESS)
    parser.add_argument("--operation", help=argparse.SUPPRESS)
    parser.add_argument("--secret-file", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    if not shutil.which("valgrind"):
        raise SystemExit("needs valgrind (Debian's package valgrind)")

    bench = _bench_orders()
    ours_env = {**bench.served_env(), "BIGSTOCK_ANCHORS": str(bench.ANCHORS)}  # as bench/orders.py serves it
    os.environ.update(ours_env)
    sys.path.insert(0, str(ROOT))
    print(f"machine: {bench.machine()}", flush=True)
    with tempfile.TemporaryDirectory(prefix="bench-instructions-") as tmp:
        workdir = Path(tmp)
        key_file, token_file = workdir / "api_key.txt", workdir / "staff_token.txt"
        seed_args = argparse.Namespace(skus=10_000, operation="order", anchor_db=args.anchor_db, clients=8,
                                       duration=1)
        bench.seed_bigstock(seed_args, key_file, token_file)
        bench.setup_anchor_database(seed_args, workdir)
        floor_env, floor_token = bench.prepare_floor(seed_args, workdir)
        floor_env["BIGSTOCK_ANCHORS"] = str(bench.ANCHORS)
        print(f"\n=== Instructions per request (valgrind callgrind, the application's process only; "
              f"{args.requests} counted after {args.warmup} uncounted)")
        for operation in args.operations:
            ours = count("ours", operation, env=ours_env, args=args, workdir=workdir,
                         secret_file=token_file if operation == "adjust" else key_file)
            floor = count("floor", operation, env=floor_env, secret_file=floor_token, args=args, workdir=workdir)
            print(f"  {operation:<7} BigStock {ours / 1e6:6.2f} M   floor {floor / 1e6:6.2f} M   "
                  f"floor / BigStock = {floor / ours:.2f}x", flush=True)


if __name__ == "__main__":
    main()
