"""Sweep axes and strategy configs are checked by the Strategy's own rules, with reasons a person reads."""

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from trades.backtest.grid import CellResult, combinations, parse_grid, ranked
from trades.backtest.inputs import StrategySpec


def test_a_grid_is_every_combination_and_refused_cells_say_why(db):
    spec = StrategySpec.from_config({"type": "trend_following"})
    axes = parse_grid(["ema_short=9,21", "ema_long=21,34", "stop_loss_percentage=0.5"])
    cells = combinations(spec, axes)
    assert [cell.values for cell in cells][:2] == [{"ema_short": "9", "ema_long": "21", "stop_loss_percentage": "0.5"},
                                                   {"ema_short": "9", "ema_long": "34", "stop_loss_percentage": "0.5"}]
    refused = [cell for cell in cells if cell.spec is None]
    assert len(refused) == 1 and "must be shorter than ema_long" in refused[0].error
    assert cells[1].spec.indicators["ema_long"] == 34 and cells[1].spec.risk.stop_loss_percentage == Decimal("0.5")


def test_grid_risk_cells_are_checked_like_a_strategy_the_leverage_against_the_stop_included(db):
    spec = StrategySpec.from_config({"type": "scalping", "stop_loss_percentage": "2"})
    cells = combinations(spec, parse_grid(["leverage=5,50", "risk_percentage=1,150"]))
    errors = {tuple(cell.values.values()): cell.error for cell in cells}
    specs = {tuple(cell.values.values()): cell.spec for cell in cells}
    assert errors[("5", "1")] == "" and specs[("5", "1")].risk.leverage == 5
    assert errors[("50", "1")].startswith("stop_loss_percentage: At 50x leverage a position is liquidated about 1.50%")
    assert errors[("5", "150")] == "risk_percentage: Ensure this value is less than or equal to 100."


@pytest.mark.parametrize("item, reason", [("ema_short", "setting=value"), ("colour=1,2", "setting=value"),
                                          ("ema_short=5,x", "must be numbers")])
def test_a_bad_axis_is_refused(item, reason):
    with pytest.raises(ValidationError, match=reason):
        parse_grid([item])


def test_ranking_puts_the_best_first_and_failures_last():
    results = [CellResult({"a": "1"}, {"total_return_pct": "-1.5"}), CellResult({"a": "2"}, None, "refused"),
               CellResult({"a": "3"}, {"total_return_pct": "4.0"})]
    assert [r.values["a"] for r in ranked(results)] == ["3", "1", "2"]


@pytest.mark.parametrize("config, reason", [
    ({"type": "momentum"}, "is not a strategy type; use one of "),
    ({"type": "scalping", "indicators": {"ema_short": 30}}, "must be shorter than ema_long"),
    ({"type": "scalping", "stop_loss_percentage": "0"}, "greater than or equal to 0.01"),
    ({"type": "scalping", "stop_loss_percentage": "3", "leverage": "40"}, "liquidated about 2.00% from its entry"),
    ({"type": "scalping", "colour": "red"}, "Unknown strategy field"),
])
def test_a_config_file_is_validated_like_a_strategy(db, config, reason):
    with pytest.raises(ValidationError, match=reason):
        StrategySpec.from_config(config)


def test_a_stored_runs_parameters_give_back_the_same_strategy(db):
    spec = StrategySpec.from_config({"type": "scalping", "timeframe": "15", "confirm_timeframe": "60",
                                     "max_daily_loss_percentage": "3", "indicators": {"rsi_period": 9}}, name="s")
    assert StrategySpec.from_parameters(spec.as_parameters()) == spec
