"""The versioned prompt and the checks every answer passes before it may count as a decision."""

import json
from datetime import UTC, datetime
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from ai.prompt import PROMPT_VERSION, MalformedAnswer, load_template, parse_decision, render_messages

VALID = {"action": "LONG", "confidence": 80, "reasoning": "RSI turned up from oversold.", "risk_level": "LOW"}


def recent(count: int = 20) -> pd.DataFrame:
    index = pd.date_range("2026-04-01 10:00", periods=count, freq="5min", tz="UTC", name="start")
    closes = 70000 + np.arange(count, dtype="float64")
    return pd.DataFrame({"open": closes - 1, "high": closes + 5, "low": closes - 5, "close": closes,
                         "volume": np.full(count, 1.5)}, index=index)


def test_the_prompt_holds_the_candle_the_indicator_snapshot_and_the_recent_candles():
    system, user = render_messages(
        version=PROMPT_VERSION, strategy_type="trend_following", symbol="BTCUSDT", timeframe="5",
        candle_time=datetime(2026, 4, 1, 11, 35, tzinfo=UTC), price=Decimal("70019.5"),
        indicators={"rsi": 61.234, "macd_hist": -0.01234, "atr": None}, recent_candles=recent())
    assert system["role"] == "system" and "one JSON object" in system["content"]
    text = user["content"]
    assert "Strategy: trend following, on 5 minutes candles." in text
    assert "Symbol: BTCUSDT" in text and "Candle (open time, UTC): 2026-04-01 11:35" in text
    assert "Close price: 70019.5" in text
    assert "- rsi: 61.23\n- macd_hist: -0.01234\n- atr: n/a" in text
    assert "The last 20 closed candles" in text
    assert "2026-04-01 10:00, 69999.00, 70005.00, 69995.00, 70000.00, 1.50" in text
    assert text.rstrip().endswith("2026-04-01 11:35, 70018.00, 70024.00, 70014.00, 70019.00, 1.50")
    assert "$" not in text  # every placeholder filled


def test_an_unknown_prompt_version_is_a_clear_error():
    with pytest.raises(FileNotFoundError, match="no prompt template for version 'v999'"):
        load_template("v999")


def test_a_valid_answer_is_normalised():
    assert parse_decision(json.dumps(VALID)) == VALID
    loose = {**VALID, "action": " short ", "risk_level": "high", "confidence": 65.0, "reasoning": "  Falling.  "}
    assert parse_decision(json.dumps(loose)) == {"action": "SHORT", "confidence": 65, "reasoning": "Falling.",
                                                 "risk_level": "HIGH"}


@pytest.mark.parametrize(("content", "message"), [
    ("I would go LONG here.", "the answer is not JSON: 'I would go LONG here.'"),
    (json.dumps({**VALID, "confidence": 250}), "confidence 250 is outside 0-100"),
    (json.dumps({**VALID, "confidence": -1}), "confidence -1 is outside 0-100"),
    (json.dumps({**VALID, "confidence": "80"}), "confidence '80' is not a whole number"),
    (json.dumps({**VALID, "confidence": 80.5}), "confidence 80.5 is not a whole number"),
    (json.dumps({**VALID, "confidence": True}), "confidence True is not a whole number"),
    (json.dumps({**VALID, "action": "BUY"}), "unknown action 'BUY'; expected LONG, SHORT or HOLD"),
    (json.dumps({**VALID, "action": None}), "unknown action None"),
    (json.dumps({**VALID, "risk_level": "EXTREME"}), "unknown risk_level 'EXTREME'"),
    (json.dumps({**VALID, "reasoning": " "}), "the reasoning is empty"),
    (json.dumps({key: value for key, value in VALID.items() if key != "risk_level"}), "the answer lacks risk_level"),
    (json.dumps([VALID]), "the answer is not a JSON object"),
    ("", "the answer was empty"),
    (None, "the answer was empty"),
])
def test_a_malformed_answer_is_refused_with_the_reason(content, message):
    with pytest.raises(MalformedAnswer) as error:
        parse_decision(content)
    assert str(error.value) == message or str(error.value).startswith(message)


def test_a_refusal_or_a_cut_off_answer_is_refused():
    with pytest.raises(MalformedAnswer, match="the model refused: not financial advice"):
        parse_decision(None, refusal="not financial advice")
    with pytest.raises(MalformedAnswer, match="cut off"):
        parse_decision('{"action": "LO', finish_reason="length")
