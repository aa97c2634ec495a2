"""A trader's strategy file, end to end: listed by the API with its parameters, a Strategy of it created (and a
value out of range refused), and decided by a cycle on the paper exchange; a class whose hook raises, or whose
file does not load, holds its pairs with the reason while a built-in in the same cycle still decides."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.conf import settings

from exchange.paper import PaperExchange
from exchange.replay import ReplayMarketData
from strategies import catalogue
from strategies.models import Strategy
from tests.helpers import SetClock
from trades.cycle import TradingCycle
from trades.models import Decision, DecisionOutcome

ALWAYS_LONG = '''
from strategies.sdk import IStrategy, IntParameter, DecimalParameter


class FileLong(IStrategy):
    """Long whenever the close is above its short average: a test strategy."""

    timeframe = "1"
    startup_candle_count = 10
    window = IntParameter(2, 50, default=3, help="SMA window in candles.")
    margin = DecimalParameter(0, 5, default=0, decimals=2, help="Unused here.")

    def populate_indicators(self, frame, metadata):
        frame["sma"] = frame["close"].rolling(self.window.value).mean()
        return frame

    def populate_entry_trend(self, frame, metadata):
        frame["enter_long"] = True
        frame["enter_tag"] = "always in, window " + str(self.window.value)
        return frame
'''

BROKEN_HOOK = '''
from strategies.sdk import IStrategy


class FileBroken(IStrategy):
    """Raises in its entry hook."""

    timeframe = "1"
    startup_candle_count = 10

    def populate_entry_trend(self, frame, metadata):
        ratio = 1 / 0
        return frame
'''


INFORMATIVE = '''
from strategies.sdk import IStrategy, merge_informative


class FileHigher(IStrategy):
    """Long while the last closed 5-minute close is above the 1-minute close: reads an informative timeframe."""

    timeframe = "1"
    startup_candle_count = 10
    informative_timeframes = ("5m",)

    def populate_indicators(self, frame, metadata):
        return merge_informative(frame, metadata["informative"]["5m"], self.timeframe, "5m", columns=["close"])

    def populate_entry_trend(self, frame, metadata):
        frame["enter_long"] = frame["close_5"].notna()
        frame["enter_tag"] = "5m candles seen: " + str(len(metadata["informative"]["5m"]))
        return frame
'''


@pytest.fixture
def strategy_dir(tmp_path, settings):
    """STRATEGY_DIRS pointed at an empty folder; write(name, source) adds a file and re-reads the catalogue."""
    settings.STRATEGY_DIRS = [tmp_path]

    def write(name: str, source: str):
        (tmp_path / name).write_text(source)
        return catalogue.refresh()

    return write


@pytest.fixture
def replay(transactional_db):
    """The paper exchange on the bundled candles, replayed from 2026-04-01 12:09 (as tests/trades does)."""
    clock = SetClock()
    market = ReplayMarketData(settings.CANDLE_DATA_DIR, anchor=clock.now, now=clock)
    clock.now += timedelta(minutes=2.5)  # the 12:10 candle has closed
    return PaperExchange(market, initial_balance=Decimal("10000"))


def run_cycle(exchange, strategies):
    return TradingCycle(exchange=exchange, sleep=lambda seconds: None).run(strategies)


def test_a_file_is_listed_created_refused_out_of_range_and_decided_by_a_cycle(strategy_dir, api_client, replay):
    strategy_dir("file_long_strategy.py", ALWAYS_LONG)

    listing = api_client.get("/api/strategies/classes").json()
    listed = {entry["key"]: entry for entry in listing["classes"]}
    assert {"scalping", "trend_following", "FileLong"} <= set(listed)
    file_long = listed["FileLong"]
    assert file_long["origin"] == "file" and file_long["file"].endswith("file_long_strategy.py")
    assert (file_long["timeframe"], file_long["startup_candle_count"]) == ("1", 10)
    assert file_long["summary"] == "Long whenever the close is above its short average: a test strategy."
    assert file_long["parameters"][0] == {"name": "window", "kind": "int", "default": 3, "optimize": True,
                                          "help": "SMA window in candles.", "low": 2, "high": 50}
    assert [parameter["name"] for parameter in file_long["parameters"]] == ["window", "margin"]
    assert listed["scalping"]["origin"] == "built-in" and listing["problems"] == []

    body = {"name": "file long", "type": "FileLong", "symbols": ["BTCUSDT"], "timeframe": "1",
            "indicators": {"window": 99}}
    refused = api_client.post("/api/strategies", body, format="json")
    assert refused.status_code == 400
    assert refused.json() == {"indicators": ["window must be from 2 to 50, got 99."]}
    assert not Strategy.objects.exists()

    created = api_client.post("/api/strategies", {**body, "indicators": {"window": 5}}, format="json")
    assert created.status_code == 201, created.json()
    assert created.json()["parameters"] == {"window": 5, "margin": 0}
    assert api_client.get("/api/strategies?type=FileLong").json()["count"] == 1

    strategy = Strategy.objects.get()
    run_cycle(replay, [strategy])
    decision = Decision.objects.get(strategy=strategy)
    assert (decision.symbol, decision.action) == ("BTCUSDT", "LONG")
    assert decision.reasons == ["always in, window 5"]


def test_a_hook_that_raises_holds_its_pairs_with_file_and_line_while_a_built_in_decides(
        strategy_dir, make_strategy, replay):
    strategy_dir("file_broken_strategy.py", BROKEN_HOOK)
    broken = make_strategy(name="broken", type="FileBroken", symbols=["BTCUSDT", "ETHUSDT"], timeframe="1")
    builtin = make_strategy(name="builtin", type="scalping", symbols=["BTCUSDT"], timeframe="1")

    report = run_cycle(replay, [broken, builtin])

    held = Decision.objects.filter(strategy=broken)
    assert held.count() == 2
    line = BROKEN_HOOK.splitlines().index("        ratio = 1 / 0") + 1
    for decision in held:
        assert (decision.action, decision.outcome) == ("HOLD", DecisionOutcome.FAILED)
        assert decision.detail == (f"strategy error: FileBroken.populate_entry_trend raised ZeroDivisionError: "
                                   f"division by zero (file_broken_strategy.py:{line})")
    decided = Decision.objects.get(strategy=builtin)
    assert decided.outcome != DecisionOutcome.FAILED and decided.reasons and decided.candle_time is not None
    assert {pair.strategy.name for pair in report.pairs if pair.signal is not None} == {"builtin"}


def test_a_class_whose_file_does_not_load_holds_with_the_load_problem(strategy_dir, make_strategy, replay,
                                                                     logged_in_client):
    strategy_dir("file_gone.py", ALWAYS_LONG.replace("class FileLong", "class FileGone"))
    strategy = make_strategy(name="gone", type="FileGone", symbols=["BTCUSDT"], timeframe="1")
    found = strategy_dir("file_gone.py", "class FileGone(:\n")  # saved with a syntax error
    assert catalogue.strategy_class("FileGone") is None and len(found.problems) == 1

    run_cycle(replay, [strategy])

    decision = Decision.objects.get(strategy=strategy)
    assert decision.outcome == DecisionOutcome.FAILED
    assert decision.detail.startswith("strategy class 'FileGone' is not loaded, holding: ")
    assert decision.detail.endswith("file_gone.py: syntax error at line 1: invalid syntax")
    page = logged_in_client.get("/strategies/").content.decode()
    assert "Strategy files that did not load" in page and "syntax error at line 1" in page
    assert "Does not trade: strategy class &#x27;FileGone&#x27; is not loaded" in page


def test_the_cycle_hands_a_class_its_informative_candles_and_confirms_any_class(strategy_dir, make_strategy,
                                                                                replay):
    strategy_dir("file_higher.py", INFORMATIVE)
    plain = make_strategy(name="higher", type="FileHigher", symbols=["BTCUSDT"], timeframe="1")
    confirmed = make_strategy(name="confirmed", type="FileHigher", symbols=["BTCUSDT"], timeframe="1",
                              confirm_timeframe="15")

    run_cycle(replay, [plain, confirmed])

    decision = Decision.objects.get(strategy=plain)
    assert decision.action == "LONG" and decision.reasons == ["5m candles seen: 200"]
    # No ema_short/ema_long parameters: the confirmation trend takes the built-ins' EMA 9 and 21.
    checked = Decision.objects.get(strategy=confirmed)
    assert checked.reasons[0] == "5m candles seen: 200"
    assert checked.reasons[1].startswith("Higher timeframe trend is ") and "(EMA 9 " in checked.reasons[1]
    assert ", EMA 21 " in checked.reasons[1]
