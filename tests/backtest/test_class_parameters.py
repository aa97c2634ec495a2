"""The backtest's grid and --param take any parameter the strategy's class declares, checked by the class."""

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command

from strategies import catalogue
from trades.backtest.grid import combinations, parse_grid
from trades.backtest.inputs import StrategySpec

SWEEPABLE = '''
from strategies.sdk import BooleanParameter, CategoricalParameter, IntParameter, IStrategy


class Sweepable(IStrategy):
    """A test class with one parameter of each kind."""

    timeframe = "5"
    startup_candle_count = 5
    length = IntParameter(2, 20, default=5)
    side = CategoricalParameter(["long", "short"], default="long")
    strict = BooleanParameter(default=False)

    def populate_entry_trend(self, frame, metadata):
        frame["enter_long"] = self.side.value == "long"
        return frame
'''


@pytest.fixture
def sweepable(tmp_path, settings):
    settings.STRATEGY_DIRS = [tmp_path]
    (tmp_path / "sweepable.py").write_text(SWEEPABLE)
    catalogue.refresh()
    return StrategySpec.from_config({"type": "Sweepable", "timeframe": "5"})


def test_a_grid_sweeps_the_classs_own_parameters_and_the_class_refuses_cells(db, sweepable):
    axes = parse_grid(["length=3,30", "side=short", "strict=true", "leverage=2"], "Sweepable")
    assert axes == {"length": [3, 30], "side": ["short"], "strict": [True], "leverage": [2]}
    cells = combinations(sweepable, axes)
    assert cells[0].spec.indicators == {"length": 3, "side": "short", "strict": True}
    assert cells[1].spec is None and cells[1].error == "length must be from 2 to 20, got 30."
    with pytest.raises(ValidationError, match="with a setting among length, side, strict, risk_percentage"):
        parse_grid(["ema_short=5,9"], "Sweepable")


def test_the_command_sets_a_declared_parameter_and_names_a_bad_one(db, sweepable, tmp_path):
    config = tmp_path / "sweep.json"
    config.write_text('{"type": "Sweepable", "timeframe": "5"}')
    with pytest.raises(CommandError, match="length must be from 2 to 20, got 40."):
        call_command("backtest", "--config", str(config), "--param", "length=40")
    with pytest.raises(CommandError, match="--param 'rsi_period=9': write name=value with a parameter Sweepable "
                                           "declares: length, side, strict"):
        call_command("backtest", "--config", str(config), "--param", "rsi_period=9")
