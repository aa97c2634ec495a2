"""The whole bot under API load: throughput, p50/p99 latency and errors, with dashboards open and cycles running.

    .venv/bin/python benchmarks/load_bench.py [--seconds 60] [--rate 200] [--sockets 20] [--socket-format html]

Needs PostgreSQL and Redis (DATABASE_URL, REDIS_URL, as ``make bench`` sets them). It creates a throw-away
database next to DATABASE_URL's, migrates it, seeds the demo strategy (active, 1-minute candles, paper exchange
on the bundled replay), and starts the real stack on loopback with ``manage.py runbot``: daphne, the Celery
worker, beat and the market stream, as separate processes. Then, for ``--seconds``:

* an open-loop load generator (aiohttp) sends ``--rate`` authenticated reads a second (``Authorization: Token``),
  a fixed mix of the dashboard's API reads; each request's latency counts from when it was due, so a server
  that falls behind shows it;
* ``/healthz`` rides in the same mix as the reference: the same server, the same moment, no auth, no query;
* ``--sockets`` WebSocket clients (dashboard sessions, server-rendered fragments by default) stay connected and
  count what they receive;
* beat fires the trading cycle every minute; afterwards every minute the run covered must have its cycle.

It prints the figures and exits non-zero unless the goal of issue 8 is met: API p99 < 50 ms, no error, no missed
cycle. The database is dropped at the end; REDIS_URL's database is shared with whatever else uses it.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

GOAL_P99_MS = 50.0
# The dashboard's reads, weighted as a dashboard and a script or two would make them.
MIX = [
    ("/api/bot/status", 3), ("/api/bybit/price/BTCUSDT", 3), ("/api/bybit/balance", 2),
    ("/api/bybit/positions", 2), ("/api/trades?page=1", 2), ("/api/trades/stats", 1),
    ("/api/trades/decisions", 1), ("/api/strategies", 1), ("/api/bybit/orders", 1), ("/api/chart/equity", 1),
    ("/api/bybit/kline/ETHUSDT?interval=5&limit=50", 1),
]
REFERENCE = "/healthz"
REFERENCE_WEIGHT = 2


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))] if ordered else float("nan")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# The throw-away database ---------------------------------------------------------------------------

def throwaway_database_url(base_url: str) -> tuple[str, str]:
    parts = urlsplit(base_url)
    name = f"tradebot_load_{uuid.uuid4().hex[:10]}"
    return urlunsplit(parts._replace(path=f"/{name}")), name


def admin_connection(base_url: str):
    import psycopg

    parts = urlsplit(base_url)
    return psycopg.connect(host=parts.hostname, port=parts.port or 5432, user=parts.username or None,
                           password=parts.password or None, dbname="postgres", autocommit=True)


def prepare_database(url: str) -> dict:
    """Migrate, seed the demo strategy, and make the load's identities: a token and a session cookie."""
    os.environ["DATABASE_URL"] = url
    # One key for this process and the stack: the sockets' session cookie must verify there.
    os.environ.setdefault("SECRET_KEY", f"load-bench-{uuid.uuid4().hex}{uuid.uuid4().hex}")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tradebot.settings")
    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.test import Client
    from rest_framework.authtoken.models import Token

    call_command("migrate", interactive=False, verbosity=0)
    call_command("seed_demo", verbosity=0)
    user = get_user_model().objects.create_user("load", password=None)
    client = Client()
    client.force_login(user)
    from django.db import connections

    token = Token.objects.create(user=user).key
    session = client.cookies[settings.SESSION_COOKIE_NAME].value
    cookie_name = settings.SESSION_COOKIE_NAME
    connections.close_all()
    return {"token": token, "cookie": f"{cookie_name}={session}"}


# The stack -----------------------------------------------------------------------------------------

def start_stack(database_url: str, port: int, data_dir: str) -> subprocess.Popen:
    env = dict(os.environ, DATABASE_URL=database_url, TRADEBOT_DATA_DIR=data_dir, EXCHANGE_MODE="paper",
               MARKET_DATA="replay", LOG_LEVEL="WARNING", DEBUG="false", PYTHONUNBUFFERED="1")
    log = open(Path(data_dir) / "runbot.log", "wb")  # noqa: SIM115 - kept open for the child's lifetime
    process = subprocess.Popen([sys.executable, "manage.py", "runbot", "--skip-setup", "--port", str(port)],
                               cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 60
    import urllib.request

    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"runbot exited with {process.returncode}; see {log.name}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as answer:
                if answer.status == 200:
                    return process
        except OSError:
            time.sleep(0.2)
    stop_stack(process)
    raise SystemExit("the bot did not answer /healthz within 60 s")


def stop_stack(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)  # the supervisor stops its parts in reverse order
        try:
            process.wait(90)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


# The load ------------------------------------------------------------------------------------------

async def drive(base: str, token: str, rate: float, seconds: float, seed: int) -> dict:
    import aiohttp

    paths = [path for path, weight in MIX for _ in range(weight)] + [REFERENCE] * REFERENCE_WEIGHT
    rng = random.Random(seed)
    results: dict[str, list[float]] = defaultdict(list)
    timeline: list[tuple[float, float]] = []  # (seconds into the run, latency ms): where the slow ones cluster
    errors: list[str] = []
    headers = {"Authorization": f"Token {token}"}
    connector = aiohttp.TCPConnector(limit=256, limit_per_host=256)
    timeout = aiohttp.ClientTimeout(total=10)
    async with aiohttp.ClientSession(base, connector=connector, timeout=timeout) as session:

        async def one(path: str, due: float) -> None:
            try:
                async with session.get(path, headers=None if path == REFERENCE else headers) as response:
                    await response.read()
                    if response.status != 200:
                        errors.append(f"{path}: HTTP {response.status}")
                        return
            except (aiohttp.ClientError, TimeoutError) as error:
                errors.append(f"{path}: {type(error).__name__}: {error}")
                return
            latency = (time.perf_counter() - due) * 1000
            results[path].append(latency)
            timeline.append((due - start, latency))

        tasks = []
        start = time.perf_counter() + 0.05
        total = int(rate * seconds)
        for number in range(total):
            due = start + number / rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(rng.choice(paths), due)))
        await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - start
    return {"results": results, "errors": errors, "elapsed": elapsed, "sent": len(tasks), "timeline": timeline}


async def hold_sockets(ws_base: str, cookie: str, origin: str, count: int, fmt: str, stop: asyncio.Event) -> dict:
    import aiohttp

    received = [0] * count
    dropped: list[str] = []
    query = "?format=html&symbols=BTCUSDT,ETHUSDT,SOLUSDT" if fmt == "html" else ""

    async def client(index: int, session) -> None:
        try:
            async with session.ws_connect(f"{ws_base}/ws/{query}", headers={"Cookie": cookie, "Origin": origin},
                                          heartbeat=None) as socket_:
                while not stop.is_set():
                    try:
                        message = await asyncio.wait_for(socket_.receive(), timeout=0.5)
                    except TimeoutError:
                        continue
                    if message.type in (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY):
                        received[index] += 1
                    elif message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR):
                        dropped.append(f"socket {index}: closed by the server")
                        return
        except (aiohttp.ClientError, OSError) as error:
            dropped.append(f"socket {index}: {type(error).__name__}: {error}")

    async with aiohttp.ClientSession() as session:
        await asyncio.gather(*(client(index, session) for index in range(count)))
    return {"received": received, "dropped": dropped}


async def run_load(base: str, ws_base: str, identity: dict, args) -> tuple[dict, dict]:
    stop = asyncio.Event()
    sockets = asyncio.create_task(hold_sockets(ws_base, identity["cookie"], base, args.sockets, args.socket_format,
                                               stop))
    await asyncio.sleep(1.0)  # the sockets are connected and subscribed before the load starts
    load = await drive(base, identity["token"], args.rate, args.seconds, args.seed)
    stop.set()
    return load, await sockets


# The cycles ----------------------------------------------------------------------------------------

def cycle_minutes(started: datetime, ended: datetime) -> tuple[list[datetime], dict[datetime, int]]:
    """The minute boundaries the run covered (each should have fired a cycle), and the beat cycles per minute."""
    from django.db import connections

    from trades.models import CycleRun

    connections.close_all()  # the stack wrote meanwhile; read afresh
    first = (started + timedelta(seconds=59, microseconds=999999)).replace(second=0, microsecond=0)
    expected, minute = [], first
    while minute + timedelta(seconds=15) <= ended:  # beat fires just after the minute; give it 15 s
        expected.append(minute)
        minute += timedelta(minutes=1)
    runs = defaultdict(int)
    for run_started in CycleRun.objects.filter(trigger="beat", started_at__gte=first - timedelta(seconds=1),
                                               started_at__lte=ended).values_list("started_at", flat=True):
        runs[run_started.replace(second=0, microsecond=0)] += 1
    return expected, runs


# Report --------------------------------------------------------------------------------------------

def report(args, load: dict, sockets: dict, expected: list[datetime], runs: dict) -> bool:
    results, errors = load["results"], load["errors"]
    api = [value for path, values in results.items() if path != REFERENCE for value in values]
    reference = results.get(REFERENCE, [])
    done = sum(len(values) for values in results.values())
    print(f"load: {args.seconds:.0f} s at {args.rate:.0f} req/s (open loop), mixed authenticated reads (token), "
          f"{args.sockets} WebSocket dashboards ({args.socket_format}), cycles every minute; runbot on loopback\n")
    print(f"{'endpoint':<46} {'requests':>8} {'p50':>9} {'p99':>9} {'max':>9}")
    for path in sorted(results, key=lambda p: (p == REFERENCE, p)):
        values = results[path]
        label = f"{path} (reference)" if path == REFERENCE else path
        print(f"{label:<46} {len(values):>8} {statistics.median(values):7.1f}ms {percentile(values, 0.99):7.1f}ms "
              f"{max(values):7.1f}ms")
    p50, p99 = statistics.median(api), percentile(api, 0.99)
    print(f"{'all API reads':<46} {len(api):>8} {p50:7.1f}ms {p99:7.1f}ms {max(api):7.1f}ms")
    seconds = defaultdict(list)
    for offset, latency in load.get("timeline", []):
        seconds[int(offset)].append(latency)
    worst = sorted(seconds, key=lambda second: -max(seconds[second]))[:5]
    print("beat's minutes at: " + (", ".join(f"{offset:.0f}s" for offset in load.get("cycle_offsets", [])) or "none")
          + " into the run; slowest seconds: " + ", ".join(
        f"{second}s (p50 {statistics.median(seconds[second]):.0f} ms, max {max(seconds[second]):.0f} ms)"
        for second in sorted(worst)))
    print(f"\nthroughput: {done / load['elapsed']:.1f} req/s answered 200 ({load['sent']} sent in "
          f"{load['elapsed']:.1f} s); errors: {len(errors)}")
    for line in sorted(set(errors))[:10]:
        print(f"  {line}")
    received = sockets["received"]
    print(f"websockets: {args.sockets - len(sockets['dropped'])}/{args.sockets} stayed connected, "
          f"{sum(received)} messages received (per socket {min(received)}..{max(received)})")
    for line in sockets["dropped"][:5]:
        print(f"  {line}")
    missed = [minute for minute in expected if not runs.get(minute)]
    print(f"cycles: {len(expected)} minute(s) covered, {sum(runs.get(m, 0) for m in expected)} beat cycle(s) ran, "
          f"{len(missed)} missed" + (f" ({', '.join(f'{m:%H:%M}' for m in missed)})" if missed else ""))
    reference_p99 = percentile(reference, 0.99)
    met = p99 < GOAL_P99_MS and not errors and not missed and not sockets["dropped"]
    print(f"\ngoal: API p99 < {GOAL_P99_MS:.0f} ms, 0 errors, no missed cycle: {'met' if met else 'NOT met'} "
          f"(p99 {p99:.1f} ms = {p99 / reference_p99:.1f}x the /healthz p99 of {reference_p99:.1f} ms)")
    return met


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="how long the load runs (default 60)")
    parser.add_argument("--rate", type=float, default=200.0, help="requests per second (default 200)")
    parser.add_argument("--sockets", type=int, default=20, help="WebSocket clients kept open (default 20)")
    parser.add_argument("--socket-format", choices=["html", "json"], default="html",
                        help="what the sockets ask for: the dashboard's fragments (html) or JSON events")
    parser.add_argument("--seed", type=int, default=8, help="seed of the request mix")
    parser.add_argument("--log-lines", type=int, default=40, help="bot output shown when something failed")
    args = parser.parse_args()
    base_url, redis_url = os.environ.get("DATABASE_URL", ""), os.environ.get("REDIS_URL", "")
    if not base_url.startswith(("postgres://", "postgresql://")) or not redis_url:
        raise SystemExit("needs DATABASE_URL=postgres://... and REDIS_URL=redis://... (`make bench` sets both)")

    database_url, name = throwaway_database_url(base_url)
    with admin_connection(base_url) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    stack = None
    try:
        identity = prepare_database(database_url)
        port = free_port()
        with tempfile.TemporaryDirectory(prefix="tradebot-load-") as data_dir:
            stack = start_stack(database_url, port, data_dir)
            base, ws_base = f"http://127.0.0.1:{port}", f"ws://127.0.0.1:{port}"
            asyncio.run(drive(base, identity["token"], 50, 2, args.seed))  # warm-up: imports, first queries
            started = datetime.now(UTC)
            load, sockets = asyncio.run(run_load(base, ws_base, identity, args))
            ended = datetime.now(UTC)
            # A minute that began in the run's last seconds has its cycle still starting: give beat its 15 s.
            last_minute = ended.replace(second=0, microsecond=0)
            if last_minute > started:
                time.sleep(max(0.0, (last_minute + timedelta(seconds=15) - datetime.now(UTC)).total_seconds()))
            stop_stack(stack)
            stack = None
            expected, runs = cycle_minutes(started, max(ended, last_minute + timedelta(seconds=15)))
            load["cycle_offsets"] = [(minute - started).total_seconds() for minute in expected]
            if load["errors"] or sockets["dropped"]:
                tail = (Path(data_dir) / "runbot.log").read_text(errors="replace").splitlines()[-args.log_lines:]
                print("last lines of the bot's output:\n" + "\n".join(tail) + "\n")
        met = report(args, load, sockets, expected, runs)
    finally:
        if stack is not None:
            stop_stack(stack)
        from django.db import connections

        connections.close_all()
        with admin_connection(base_url) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
