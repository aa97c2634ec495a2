"""The fault suite's shared pieces: the session's fault table (printed at the end of the run, and written
to ``FAULT_TABLE_FILE`` when set) and the in-process fake exchange of one run."""

from __future__ import annotations

import random
from contextlib import contextmanager

import pytest

from tests.hardening.chaos import ChaosBybit
from tests.hardening.faults import FaultTable, base_seed, no_sleep
from tests.hardening.scenario import clear_trading
from tests.helpers import SessionReport

TABLE = SessionReport("fault table", lambda: FaultTable(base_seed()), filled=lambda table: table.rows,
                      file_env="FAULT_TABLE_FILE")


@pytest.fixture(scope="session")
def fault_table(request) -> FaultTable:
    return TABLE.collect(request.config)


def pytest_terminal_summary(terminalreporter, config):
    TABLE.print_summary(terminalreporter, config)


@pytest.fixture
def fake():
    """A fake Bybit of its own for one test (test_process_faults shares one per module instead)."""
    with ChaosBybit() as server:
        yield server


@pytest.fixture
def chaos_run(transactional_db):
    """``with chaos_run(seed, **exchange_options) as (fake, exchange, rng):`` one run on its own fake exchange,
    with the trading tables emptied before it."""

    @contextmanager
    def run(seed: int, **exchange_options):
        clear_trading()
        fake = ChaosBybit().start()
        options = {"sleep": no_sleep, "rng": random.Random(seed), "timeout": 5}
        options.update(exchange_options)
        try:
            yield fake, fake.exchange(**options), random.Random(seed)
        finally:
            fake.stop()

    return run
