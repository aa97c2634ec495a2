"""The strategy tools: ``new_strategy`` writes a template that loads, passes ``check_strategy`` and trades in a
backtest on the bundled month; ``check_strategy`` prints the report (exit code 1 on a failure); ``list_strategies``
lists the classes with their parameters and check verdicts, and the files that did not load."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from strategies import catalogue

pytestmark = pytest.mark.django_db

PEEKING = '''
from strategies.sdk import IStrategy


class Peeking(IStrategy):
    timeframe = "15"
    startup_candle_count = 20

    def populate_entry_trend(self, frame, metadata):
        frame["enter_long"] = frame["close"].shift(-1) > frame["close"]
        return frame
'''


@pytest.fixture
def folder(tmp_path, settings):
    settings.STRATEGY_DIRS = [tmp_path / "mine", tmp_path / "theirs"]
    return tmp_path / "mine"


def run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_new_strategy_writes_a_template_that_loads_passes_the_check_and_is_listed(folder):
    said = run("new_strategy", "EmaRsiCross")
    path = folder / "ema_rsi_cross.py"
    assert f"Wrote {path}." in said and path.exists()
    loaded = catalogue.refresh()
    assert loaded.problems == () and loaded.origins["EmaRsiCross"] == f"{path} (EmaRsiCross)"
    cls = catalogue.strategy_class("EmaRsiCross")
    assert cls.summary().startswith("Long on the fast EMA crossing above the slow one unless RSI is overbought")

    report = run("check_strategy", "EmaRsiCross")
    assert report.startswith("EmaRsiCross passed: its signals on 1500 candles did not change when the later "
                             "candles were removed (20 cuts)")

    listing = run("list_strategies")
    line = next(line for line in listing.splitlines() if line.startswith("EmaRsiCross"))
    assert str(path) in line and " 15 " in line and "fast=9 (3..30)" in line and "slow=21 (10..50)" in line
    assert "passed (" in line
    assert "\x1b[" not in listing and "Every strategy file loaded." in listing
    assert "not checked" in next(line for line in listing.splitlines() if line.startswith("donchian_breakout"))


def test_the_template_trades_in_a_backtest_on_the_bundled_month(folder, tmp_path):
    run("new_strategy", "EmaRsiCross")
    catalogue.refresh()
    config = tmp_path / "ema_rsi_cross.json"
    config.write_text(json.dumps({"type": "EmaRsiCross", "timeframe": "15", "symbols": ["BTCUSDT"]}))
    result = json.loads(run("backtest", "--config", str(config), "--symbol", "BTCUSDT", "--json"))
    assert len(result["trades"]) >= 5, result["metrics"]
    assert {trade["side"] for trade in result["trades"]} == {"Buy", "Sell"}


def test_new_strategy_refuses_a_bad_name_a_taken_name_and_an_existing_file(folder):
    for bad in ("ema_cross", "1Cross", "Ema-Cross", "None"):
        with pytest.raises(CommandError, match="is not a class name"):
            run("new_strategy", bad)
    folder.mkdir()
    (folder / "taken.py").write_text(PEEKING)
    with pytest.raises(CommandError, match="a strategy class named 'Peeking' is already loaded"):
        run("new_strategy", "Peeking")  # in another file: two classes of one key would clash
    (folder / "my_cross.py").write_text("# mine\n")
    with pytest.raises(CommandError, match="my_cross.py already exists: not overwritten"):
        run("new_strategy", "MyCross")
    assert (folder / "my_cross.py").read_text() == "# mine\n"


def test_check_strategy_prints_the_failure_and_exits_with_1(folder):
    folder.mkdir()
    (folder / "peeking.py").write_text(PEEKING)
    out = StringIO()
    with pytest.raises(CommandError, match="Peeking failed the check: it looks into the future") as failed:
        call_command("check_strategy", "Peeking", stdout=out)
    assert failed.value.returncode == 1
    assert "'enter_long' on the candle of" in out.getvalue()
    listing = run("list_strategies")
    assert "FAILED (" in next(line for line in listing.splitlines() if line.startswith("Peeking"))


def test_check_strategy_takes_parameters_and_names_an_unknown_class(folder):
    assert "passed" in run("check_strategy", "ema_crossover", "--parameters", '{"fast": 12, "slow": 30}',
                           "--symbol", "ETHUSDT")
    with pytest.raises(CommandError, match="there is no strategy class 'Nope'; known classes: donchian_breakout"):
        run("check_strategy", "Nope")
    with pytest.raises(CommandError, match="--parameters is not JSON"):
        run("check_strategy", "ema_crossover", "--parameters", "{fast: 12}")
    with pytest.raises(CommandError, match="fast must be below slow"):
        run("check_strategy", "ema_crossover", "--parameters", '{"fast": 30, "slow": 20}')


def test_list_strategies_shows_the_files_that_did_not_load(folder):
    folder.mkdir()
    (folder / "broken.py").write_text("def oops(:\n")
    listing = run("list_strategies")
    assert "1 file(s) not loaded:" in listing
    assert f"{folder / 'broken.py'}  syntax error at line 1" in listing


def test_check_strategy_notes_a_warmup_longer_than_the_live_cycle_fetches(folder, settings):
    settings.CYCLE_KLINE_LIMIT = 100
    said = run("check_strategy", "ema_crossover")
    assert said.startswith("ema_crossover passed")
    assert ("Note: it needs 200 start-up candles but the live cycle fetches 100 (CYCLE_KLINE_LIMIT): live it would "
            "hold on every candle.") in said
