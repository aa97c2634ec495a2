"""docs/strategies.md cannot rot: its worked example, copied out of the page as a trader would, loads through the
catalogue from a strategies folder and enters on the bundled month; every indicator of the catalogue is listed."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from exchange.replay import load_minutes
from market.candles import resample
from strategies import catalogue
from strategies.checks import check_strategy
from strategies.sdk import indicators
from strategies.sdk.kernel import populate

ROOT = Path(__file__).resolve().parents[2]
TUTORIAL = ROOT / "docs" / "strategies.md"
EXAMPLE = re.compile(r"<!-- tutorial-example:start -->\s*```python\n(.*?)```\s*<!-- tutorial-example:end -->", re.S)


def tutorial_example() -> str:
    found = EXAMPLE.findall(TUTORIAL.read_text())
    assert len(found) == 1, "docs/strategies.md must hold exactly one example between the marker comments"
    return found[0]


@pytest.fixture
def strategies_folder(tmp_path, settings):
    """A strategies folder holding only the tutorial's file, as STRATEGY_DIRS; the catalogue re-read from it."""
    (tmp_path / "rsi_dip.py").write_text(tutorial_example())
    settings.STRATEGY_DIRS = [tmp_path]  # pytest-django restores it; the catalogue follows the setting
    return tmp_path


def test_the_tutorials_example_loads_and_enters_on_the_bundled_month(strategies_folder):
    loaded = catalogue.refresh()
    assert [problem for problem in loaded.problems if "rsi_dip" in problem.path] == []
    assert "RsiDip" in catalogue.known_types()
    cls = catalogue.strategy_class("RsiDip")
    assert loaded.origins["RsiDip"] == f"{strategies_folder / 'rsi_dip.py'} (RsiDip)"
    assert cls.check_class() == []
    assert set(cls.declared_parameters()) == {"rsi_period", "rsi_low", "rsi_high", "trend_period", "shorts"}

    minutes = load_minutes(str(ROOT / "exchange" / "data" / "ETHUSDT_1m.csv.gz"))
    frame = resample(minutes, cls.interval())
    result = populate(cls(), frame, {"pair": "ETHUSDT", "informative": {}})
    longs, shorts = int((result.entries == 1).sum()), int((result.entries == -1).sum())
    assert longs >= 5 and shorts >= 5, (longs, shorts)
    assert {result.tag(row) for row in np.flatnonzero(result.entries)} == {"RSI dip in an uptrend",
                                                                          "RSI rip in a downtrend"}
    assert result.exit_long.any() and result.exit_short.any()
    # The declared parameters are honoured: no shorts when switched off.
    assert not (populate(cls({"shorts": False}), frame, {"pair": "ETHUSDT"}).entries == -1).any()


def test_the_tutorial_lists_every_indicator_of_the_catalogue():
    text = TUTORIAL.read_text()
    missing = [name for name in indicators.__all__ if f"| `{name}(" not in text]
    assert missing == []


def test_the_tutorials_example_passes_the_look_ahead_and_warm_up_check_and_fits_the_live_cycle(strategies_folder,
                                                                                                 settings):
    catalogue.refresh()
    report = check_strategy("RsiDip", {})
    assert report.passed, report.text()
    assert report.startup <= settings.CYCLE_KLINE_LIMIT and not report.notes
