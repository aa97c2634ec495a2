"""Shared fixtures. The suite runs on a real PostgreSQL and a real Redis (``make test`` sets both)."""

from __future__ import annotations

import importlib
import os
import uuid
from decimal import Decimal

import pytest
from django.conf import settings

from tests.helpers import ManagedProcess, postgres_admin_connection, wait_until

pytest_plugins = ["tests.fakes.telegram_server", "tests.fakes.bybit_server", "tests.fakes.openai_server",
                  "tests.fakes.webhook_receiver", "tests.browser"]


def pytest_configure(config):
    engine = settings.DATABASES["default"]["ENGINE"]
    if "postgresql" not in engine and not os.environ.get("TRADEBOT_ALLOW_SQLITE_TESTS"):
        raise pytest.UsageError(
            "The test suite runs on PostgreSQL: set DATABASE_URL=postgres://... and REDIS_URL=redis://... "
            "(`make test` does both).")
    if settings.EMBEDDED_REDIS:
        raise pytest.UsageError("The test suite needs REDIS_URL=redis://... (`make test` sets it).")
    # Password hashing is deliberately slow; tests that log in do not need it to be.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    """Login failures and order throttles live in Redis, which outlives a test (and a run): start from none."""
    from core.security import clear_rate_limits

    clear_rate_limits()


@pytest.fixture(autouse=True)
def _fresh_channel_layer():
    """A channel layer of its own for each test. channels_redis keeps one receive lock per process-local channel
    prefix, bound to the event loop that first waits on it, and each test's ``async_to_sync`` runs a loop of its own:
    a consumer one test left waiting would bind the next test's receives to a dead loop ("bound to a different event
    loop", then every socket test after it failing). A new layer has a new prefix, and new locks."""
    from channels.layers import channel_layers

    channel_layers.backends.clear()
    yield
    channel_layers.backends.clear()


@pytest.fixture
def user(django_user_model):
    """An operator who may trade: live trading switched on (tests/security covers the switch itself)."""
    from core.models import OperatorSettings

    trader = django_user_model.objects.create_superuser("trader", "trader@example.com", "correct-horse-battery")
    OperatorSettings.objects.create(user=trader, live_trading_enabled=True)
    return trader


@pytest.fixture
def make_member(django_user_model):
    """A plain user (no password) in the groups the migrations ship ("viewer", "trader", "strategist"), with the
    live trading switch on or off."""
    from django.contrib.auth.models import Group, Permission

    from core.models import OperatorSettings

    shipped = importlib.import_module("core.migrations.0002_permission_groups").GROUPS

    def group(name: str) -> Group:
        found = Group.objects.filter(name=name).first()
        if found is None:  # a transactional test's flush emptied the tables; permissions come back, groups do not
            found = Group.objects.create(name=name)
            for app_label, codename in shipped[name]:
                found.permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))
        return found

    def make(username: str, *groups: str, live: bool = False):
        person = django_user_model.objects.create_user(username, password=None)
        person.groups.set([group(name) for name in groups])
        OperatorSettings.objects.create(user=person, live_trading_enabled=live)
        return person

    return make


@pytest.fixture
def logged_in_client(client, user):
    client.force_login(user)
    return client


@pytest.fixture
def api_client(user):
    from rest_framework.test import APIClient

    api = APIClient()
    api.force_authenticate(user)
    return api


@pytest.fixture
def anonymous_api_client():
    from rest_framework.test import APIClient

    return APIClient()


@pytest.fixture
def make_strategy(db, django_user_model):
    """Strategies as the tests want them. An active one was activated by a superuser with live trading on, so the
    cycle trades it in every mode (tests/trades/test_strategy_authority.py covers activators who may not)."""
    from core.models import OperatorSettings
    from strategies.models import Strategy

    def activator():
        person = django_user_model.objects.filter(username="strategy-activator").first()
        if person is None:
            person = django_user_model.objects.create_superuser("strategy-activator", "a@example.com", None)
            OperatorSettings.objects.create(user=person, live_trading_enabled=True)
        return person

    def make(**overrides):
        values = {
            "name": f"strategy-{uuid.uuid4().hex[:8]}",
            "type": "scalping",
            "is_active": True,
            "symbols": ["BTCUSDT"],
            "timeframe": "5",
            "risk_percentage": Decimal("1"),
            "max_positions": 3,
            "stop_loss_percentage": Decimal("1"),
            "take_profit_percentage": Decimal("2"),
        }
        values.update(overrides)
        if values["is_active"] and "activated_by" not in overrides:
            values["activated_by"] = activator()
        return Strategy.objects.create(**values)

    return make


@pytest.fixture
def database_url_of_test_db(transactional_db):
    """DATABASE_URL naming the test database, for subprocesses that must see what the test writes."""
    db = settings.DATABASES["default"]
    password = f":{db['PASSWORD']}" if db["PASSWORD"] else ""
    return f"postgres://{db['USER']}{password}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


@pytest.fixture
def fresh_database_url():
    """An empty PostgreSQL database, dropped afterwards: for proving what ``migrate`` creates."""
    name = f"tradebot_fresh_{uuid.uuid4().hex[:10]}"
    db = settings.DATABASES["default"]
    with postgres_admin_connection() as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    password = f":{db['PASSWORD']}" if db["PASSWORD"] else ""
    yield f"postgres://{db['USER']}{password}@{db['HOST']}:{db['PORT']}/{name}"
    with postgres_admin_connection() as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def celery_worker_factory(database_url_of_test_db, tmp_path):
    """Starts real ``celery worker`` processes, each on its own queue, reading the real Redis broker."""
    workers = []

    def start(**env_overrides) -> ManagedProcess:
        queue = f"test-{uuid.uuid4().hex[:8]}"
        env = dict(os.environ, DATABASE_URL=database_url_of_test_db, TRADEBOT_DATA_DIR=str(tmp_path),
                   **env_overrides)
        process = ManagedProcess(
            ["-m", "celery", "-A", "tradebot", "worker", "--loglevel", "INFO", "--pool", "solo",
             "--queues", queue, "--hostname", f"{queue}@%h", "--without-gossip", "--without-mingle",
             "--without-heartbeat"],
            env=env, name="worker")
        workers.append(process.start())
        wait_until(lambda: "ready." in process.output(), timeout=30, what="the Celery worker to be ready",
                   on_timeout=process.output)
        process.queue = queue
        return process

    yield start
    for process in workers:
        process.stop()


@pytest.fixture
def celery_worker_process(celery_worker_factory):
    return celery_worker_factory()


@pytest.fixture
def app_on_fake_bybit(settings, fake_bybit):
    """The app's own exchange (``get_exchange()``) is Bybit testnet, the real pybit client, pointed at the fake Bybit
    server: real-money rules apply (the live trading switch, instrument rules)."""
    from exchange.factory import reset_exchange

    settings.EXCHANGE_MODE, settings.BYBIT_BASE_URL = "testnet", fake_bybit.url
    settings.BYBIT_API_KEY, settings.BYBIT_API_SECRET = fake_bybit.api_key, fake_bybit.api_secret
    reset_exchange()
    yield fake_bybit
    reset_exchange()
