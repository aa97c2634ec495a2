import subprocess
import sys

import pytest

from trades import locks
from trades.models import StrategyLease

pytestmark = pytest.mark.django_db


def test_only_one_holder_at_a_time_and_release_frees_it(make_strategy):
    strategy = make_strategy()
    assert locks.acquire(strategy.pk, "a", 60) is True
    assert locks.acquire(strategy.pk, "b", 60) is False
    locks.release(strategy.pk, "b")  # not b's to release
    assert locks.acquire(strategy.pk, "c", 60) is False
    locks.release(strategy.pk, "a")
    assert locks.acquire(strategy.pk, "c", 60) is True


def test_an_expired_lease_can_be_taken(make_strategy):
    strategy = make_strategy()
    assert locks.acquire(strategy.pk, "crashed-elsewhere:1:x", 0)
    assert locks.acquire(strategy.pk, "next", 60)


def test_a_lease_whose_holder_died_on_this_host_is_taken_over(make_strategy):
    strategy = make_strategy()
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    assert locks.acquire(strategy.pk, f"{locks.HOST}:{dead.stdout.strip()}:gone", 300)
    assert locks.acquire(strategy.pk, "next", 60)
    assert StrategyLease.objects.get(strategy=strategy).owner == "next"


def test_a_living_holder_on_this_host_keeps_its_lease(make_strategy):
    strategy = make_strategy()
    with locks.strategy_lease(strategy.pk, 300) as held:
        assert held
        with locks.strategy_lease(strategy.pk, 300) as second:
            assert second is False
