"""Funding and liquidation in the engine and its Decimal ledger, on hand-made candles with hand-computed figures."""

from dataclasses import replace
from decimal import Decimal

import pandas as pd
import pytest

from tests.backtest.conftest import events_for, minute_frame
from trades.backtest.engine import simulate
from trades.backtest.ledger import replay_ledger
from trades.backtest.perpetual import FundingSchedule
from trades.risk import RiskParams

BEFORE_EIGHT = pd.Timestamp("2026-01-01 07:55", tz="UTC")
EIGHT_MS = int(pd.Timestamp("2026-01-01 08:00", tz="UTC").timestamp() * 1000)
CALM = (100, 101, 99.5, 100.5)
ROWS = [CALM, (100, 101, 99.5, 100.5), CALM, CALM, (100.5, 101.5, 100, 101),  # 07:55 .. 07:59 (closes at 101)
        (101, 101.5, 100, 100.5), CALM, CALM, CALM, CALM]  # 08:00 .. 08:04


def run(config, rows, signals, rates=None):
    minutes, events = events_for(minute_frame(rows, BEFORE_EIGHT), signals)
    if rates is not None:
        config = replace(config, funding=FundingSchedule.build(minutes.start, rates))
    result = simulate(minutes, events, config)
    return result, replay_ledger(result, minutes, config)


def test_a_long_held_over_8_utc_pays_its_value_at_the_0759_close_times_the_rate(config):
    config = replace(config, protective_stops=False)
    result, ledger = run(config, ROWS, {0: 1}, {EIGHT_MS: Decimal("0.0005")})  # fills at the 07:56 open
    unfunded, _ = run(config, ROWS, {0: 1})
    # 1 unit x 101 (the 07:59 candle's close) x 0.05 % = 0.0505 USDT, paid by the long.
    assert ledger.open_trade.funding == ledger.funding == Decimal("-0.05050000")
    assert ledger.funding_note == ""  # the rate was known
    assert result.final_equity == pytest.approx(unfunded.final_equity - 0.0505, abs=1e-9)
    assert float(ledger.final_equity) == pytest.approx(result.final_equity, abs=1e-9)
    assert result.equity[5] - result.equity[4] == pytest.approx(-0.0505 + (100.5 - 101), abs=1e-9)  # at 08:00


def test_a_short_receives_it_and_a_trade_opened_at_8_pays_nothing(config):
    config = replace(config, protective_stops=False)
    _, short = run(config, ROWS, {0: -1}, {EIGHT_MS: Decimal("0.0005")})
    assert short.funding == Decimal("0.05050000")
    _, late = run(config, ROWS, {4: 1}, {})  # fills at the 08:00 open: not held at 08:00
    assert late.funding == 0
    assert late.funding_note == "funding assumed at 0.01 % per 8 h"  # no data: the report says what it assumed


def test_a_stop_hit_inside_the_8_00_minute_still_pays_the_8_00_funding(config):
    rows = [*ROWS[:5], (101, 101, 98, 98.5), *ROWS[6:]]  # the stop (99, 1 % under the 100 fill) at 08:00
    result, ledger = run(config, rows, {0: 1}, {EIGHT_MS: Decimal("0.0005")})
    (trade,) = ledger.trades
    assert trade.exit_reason == "stop_loss" and trade.exit_time == pd.Timestamp("2026-01-01 08:00", tz="UTC")
    assert trade.funding == Decimal("-0.05050000")
    assert trade.pnl == Decimal("-1") - Decimal("0.1") - Decimal("0.099")  # funding is not in the closed PnL
    assert float(ledger.final_equity) == pytest.approx(result.final_equity, abs=1e-9)
    assert float(ledger.final_equity) == pytest.approx(10000 - 1.199 - 0.0505, abs=1e-9)


CRASH = [CALM, (100, 100.4, 99.8, 100), (100, 100.2, 99.5, 99.6), (99.5, 99.6, 98.0, 98.2), CALM, CALM]


@pytest.mark.parametrize("how", ["stops", "no stops (watched lazily)", "extra exits (walked)"])
def test_at_50x_with_a_5_percent_stop_the_position_is_liquidated_at_the_liquidation_price(config, how):
    # Fill 100 x 1.001 (10 bps) = 100.10; liquidation 100.10 x (1 - 1/50 + 0.005) = 98.5985, up to the tick: 98.60.
    risk = RiskParams(Decimal("1"), Decimal("5"), Decimal("10"), leverage=Decimal("50"))
    if how.startswith("extra"):
        risk = replace(risk, exit_after_candles=50)
    config = replace(config, risk=risk, slippage_bps=Decimal("10"), protective_stops=not how.startswith("no"))
    result, ledger = run(config, CRASH, {0: 1})
    (trade,) = ledger.trades
    assert (trade.exit_reason, trade.entry_price, trade.exit_price) == ("liquidation", Decimal("100.10"),
                                                                        Decimal("98.60"))  # no slippage on it
    assert trade.exit_time == pd.Timestamp("2026-01-01 07:58", tz="UTC")
    # -1.50 price, 0.1001 + 0.0986 fees.
    assert trade.pnl == Decimal("-1.6987")
    assert result.trades[0].pnl == pytest.approx(-1.6987, abs=1e-9)


def test_a_stop_nearer_than_the_liquidation_price_closes_first(config):
    risk = RiskParams(Decimal("1"), Decimal("1"), Decimal("10"), leverage=Decimal("50"))  # stop 99, liq 98.50
    _, ledger = run(replace(config, risk=risk), CRASH, {0: 1})
    (trade,) = ledger.trades
    assert (trade.exit_reason, trade.exit_price) == ("stop_loss", Decimal("99"))
