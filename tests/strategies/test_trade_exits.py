"""The one rule for a strategy's word on a trade it holds (``strategies.sdk.trade_exits``), hand-computed."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from market.types import InstrumentRules
from strategies.sdk import IStrategy
from strategies.sdk.kernel import StrategyError
from strategies.sdk.trade_exits import CUSTOM_EXIT, EXIT_SIGNAL, KEEP, ExitAdvice, HeldTrade, advise, has_callbacks

RULES = InstrumentRules("BTCUSDT", tick_size=Decimal("0.1"), qty_step=Decimal("0.001"), min_qty=Decimal("0.001"),
                        max_qty=Decimal("100"), min_notional=Decimal("5"))
NOW = datetime(2026, 4, 2, 12, 0, tzinfo=UTC)
LONG = HeldTrade(pair="BTCUSDT", side="Buy", open_rate=100.0, open_time=NOW, amount=1.0, stop_loss=95.0)
SHORT = HeldTrade(pair="BTCUSDT", side="Sell", open_rate=100.0, open_time=NOW, amount=1.0, stop_loss=105.0)


class Stopper(IStrategy):
    ratio = -0.02
    reason = None

    def custom_stoploss(self, trade, current_time, current_rate, current_profit, **kwargs):
        return self.ratio

    def custom_exit(self, trade, current_time, current_rate, current_profit, **kwargs):
        return self.reason


def ask(strategy, trade=LONG, rate=110.0, exit_signal=False, tag=""):
    return advise(strategy, trade, candle_close=NOW, rate=rate, exit_signal=exit_signal, exit_tag=tag, rules=RULES)


def test_an_exit_signal_closes_with_its_tag_before_any_hook_is_asked():
    strategy = Stopper()
    strategy.reason = "never asked"
    assert ask(strategy, exit_signal=True, tag="crossed down") == ExitAdvice(EXIT_SIGNAL, "crossed down")
    assert ask(strategy, exit_signal=True).reason == "exit signal"


def test_custom_exit_names_the_reason_and_true_means_a_plain_one():
    strategy = Stopper()
    strategy.reason = "target met"
    assert ask(strategy) == ExitAdvice(CUSTOM_EXIT, "target met")
    strategy.reason = True
    assert ask(strategy).reason == "custom exit"


def test_custom_stoploss_is_a_ratio_of_the_close_on_the_losing_side_rounded_to_the_tick():
    strategy = Stopper()
    # 2 % under 110.37 is 108.1626, on the 0.1 tick 108.2; for a short 2 % over 110.37 is 112.5774 -> 112.6.
    assert ask(strategy, rate=110.37).stop == Decimal("108.2")
    short = ask(strategy, trade=HeldTrade(**{**SHORT.__dict__, "stop_loss": 120.0}), rate=110.37)
    assert short.stop == Decimal("112.6")
    strategy.ratio = 0.02  # the sign is ignored, as freqtrade does
    assert ask(strategy, rate=110.37).stop == Decimal("108.2")


def test_a_stop_only_moves_nearer_the_price():
    strategy = Stopper()
    assert ask(strategy, rate=96.0) is KEEP  # 94.08 is below the 95 stop it has: kept
    assert ask(strategy, trade=SHORT, rate=104.0) is KEEP  # 106.08 is above the 105 stop it has: kept
    assert ask(strategy, trade=HeldTrade(**{**LONG.__dict__, "stop_loss": None}), rate=96.0).stop == Decimal("94.1")


@pytest.mark.parametrize("ratio", [0, 1.5, float("nan"), "tight"])
def test_a_ratio_that_is_no_stop_is_a_named_strategy_error(ratio):
    strategy = Stopper()
    strategy.ratio = ratio
    with pytest.raises(StrategyError, match="custom_stoploss"):
        ask(strategy)


def test_a_hook_that_raises_is_reported_with_its_file_and_line():
    class Raising(IStrategy):
        def custom_exit(self, trade, current_time, current_rate, current_profit, **kwargs):
            return trade["missing"]

    with pytest.raises(StrategyError, match=r"custom_exit raised KeyError: 'missing' \(test_trade_exits.py:\d+\)"):
        ask(Raising())


def test_the_hooks_see_freqtrades_trade_facts_and_the_profit_in_the_trades_favour():
    seen = {}

    class Looking(IStrategy):
        def custom_exit(self, trade, current_time, current_rate, current_profit, **kwargs):
            seen.update(trade=trade, time=current_time, rate=current_rate, profit=current_profit)

    ask(Looking(), trade=SHORT, rate=90.0)
    assert seen["trade"]["pair"] == "BTCUSDT" and seen["trade"]["is_short"] and seen["trade"]["open_rate"] == 100.0
    assert seen["time"] == NOW and seen["rate"] == 90.0 and seen["profit"] == pytest.approx(0.1)


def test_only_a_class_overriding_a_hook_counts_as_having_callbacks():
    assert has_callbacks(Stopper) and not has_callbacks(IStrategy)
