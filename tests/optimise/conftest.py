"""Optimisation fixtures: a cheap strategy over a short range, studies run eagerly (in this process) by default."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import redis
from django.conf import settings as django_settings

from tests.journeys.conftest import operator, signed_in  # noqa: F401 - the browser journeys' fixtures, for ours
from trades.optimise.commands import StudyRequest

START, END = datetime(2026, 4, 2, tzinfo=UTC), datetime(2026, 4, 10, tzinfo=UTC)


@pytest.fixture(scope="session", autouse=True)
def _optuna_pools_closed(django_db_setup, django_db_blocker):
    """Optuna's connections (its own pool, outside Django's) end before the test database is dropped."""
    yield
    from trades.optimise import study

    study.close()


@pytest.fixture
def eager(settings):
    """Trials run in this process as soon as they are queued (Celery reads its settings from Django's)."""
    settings.CELERY_TASK_ALWAYS_EAGER = True
    settings.OPTIMISE_TRIALS_IN_FLIGHT = 4


@pytest.fixture
def ema(make_strategy):
    """EMA crossover on BTCUSDT, 15-minute candles: the cheapest built-in to backtest."""
    return make_strategy(name="ema cross", type="ema_crossover", symbols=["BTCUSDT"], timeframe="15",
                         is_active=False, indicators={"fast": 9, "slow": 21})


@pytest.fixture
def ask(ema):
    """A StudyRequest on the EMA strategy, a week of candles, a small space; override what a test needs."""
    def make(**overrides) -> StudyRequest:
        values = {"strategy_id": ema.pk, "start": START, "end": END, "trials": 4, "min_trades": 0, "seed": 7,
                  "ranges": {"fast": "5:12", "slow": "30:60"}}
        values.update(overrides)
        return StudyRequest(**values)

    return make


@pytest.fixture
def launched(eager, ask, django_capture_on_commit_callbacks):
    """Launch a study and run it to the end, eagerly."""
    from trades.optimise.commands import launch_study

    def launch(user=None, **overrides):
        with django_capture_on_commit_callbacks(execute=True):
            run = launch_study(user, ask(**overrides))
        run.refresh_from_db()
        return run

    return launch


def forget_queue(queue: str) -> None:
    """Drop a test's own broker queue and kombu's records of it (what a test queued there is its own business)."""
    redis.Redis.from_url(django_settings.REDIS_URL).delete(queue, f"_kombu.binding.{queue}",
                                                            f"_kombu.binding_permanent.{queue}")
