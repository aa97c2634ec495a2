"""The fault suite's shared pieces: the session's fault table (printed at the end of the run, and written
to ``FAULT_TABLE_FILE`` when set) and the in-process fake exchange of one run."""

from __future__ import annotations

import os
import random
from contextlib import contextmanager

import pytest

from tests.hardening.chaos import ChaosBybit
from tests.hardening.faults import FaultTable, base_seed, no_sleep
from tests.hardening.scenario import clear_trading

TABLE = pytest.StashKey[FaultTable]()


@pytest.fixture(scope="session")
def fault_table(request) -> FaultTable:
    if TABLE not in request.config.stash:
        request.config.stash[TABLE] = FaultTable(base_seed())
    return request.config.stash[TABLE]


def pytest_terminal_summary(terminalreporter, config):
    table = config.stash.get(TABLE, None)
    if table is None or not table.rows:
        return
    terminalreporter.write_sep("=", "fault table")
    terminalreporter.write_line(table.render())
    if os.environ.get("FAULT_TABLE_FILE"):
        with open(os.environ["FAULT_TABLE_FILE"], "w") as out:
            out.write(table.render() + "\n")


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
