"""Exchange faults, in process, many times each: lost order answers, 5xx bursts, rate-limit storms.

Each run: a fresh fake Bybit (the real pybit client at the wire), a strategy whose two symbols signal,
one fault armed for a random request of the run, a trading minute (cycle, the market moving through
stops and targets, the next beat), then the reconciler until the database and the exchange agree.
"""

from functools import partial

import pytest

from tests.hardening import plans
from tests.hardening.chaos import ORDER_CREATE, TRADING_STOP
from tests.hardening.faults import RunResult, run_seed, runs, settle
from tests.hardening.scenario import START_BALANCE, make_cycle, open_market, trading_minute

FAULTS = {
    "1 order answer lost: disconnect": (partial(plans.lost_answer, how="disconnect"), 6, {}),
    # The client gives up after its timeout (1 s here, 10 s in production); the answer never comes.
    "1 order answer lost: timeout": (partial(plans.lost_answer, how="timeout"), 3, {"timeout": 1}),
    "2 5xx burst on reads": (partial(plans.burst, target="reads", max_times=12), 6, {}),
    "2 5xx burst on order create": (partial(plans.burst, target=ORDER_CREATE, max_times=3), 5, {}),
    "2 5xx burst on trading-stop": (partial(plans.burst, target=TRADING_STOP, max_times=12), 6, {}),
    "2 5xx storm on every path": (partial(plans.storm, kind="5xx", max_times=30), 6, {}),
    "3 rate limit storm: retCode 10006": (partial(plans.storm, kind="10006", max_times=15), 6, {}),
    "3 rate limit storm: HTTP 429": (partial(plans.storm, kind="429", max_times=15), 3, {}),
    "3 rate limit storm: HTTP 403": (partial(plans.storm, kind="403", max_times=15), 3, {}),
}


@pytest.mark.parametrize("fault", list(FAULTS))
def test_no_order_is_doubled_or_lost_and_the_books_agree_after(fault, chaos_run, fault_table):
    plan, default_runs, exchange_options = FAULTS[fault]
    figures = fault_table.figures(fault)
    for index in range(runs(default_runs)):
        seed = run_seed(fault_table.seed, fault, index)
        with chaos_run(seed, **exchange_options) as (fake, exchange, rng):
            strategy = open_market(fake, rng)
            description = plan(fake, rng)
            errors = trading_minute(fake, exchange, strategy, rng)
            findings, recovery, beats, settle_errors = settle(
                fake, exchange, START_BALANCE, fault_at=fake.fault_at,
                next_beat=lambda s=strategy: make_cycle(exchange).run([s]))
            figures.add(RunResult(fault, seed, description, fake.fired > 0, findings, recovery, beats,
                                  errors + settle_errors))

    assert figures.orders > 0, "no run placed an order: the fault was never tried against one"
    assert (figures.duplicates, figures.lost, figures.unsettled) == (0, 0, 0), figures.problems()
    assert figures.fired == figures.runs, figures.problems()
