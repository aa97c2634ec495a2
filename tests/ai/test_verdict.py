"""The AI verdict and the cost formula: one spelling, shared by the live cycle and the backtest."""

from decimal import Decimal

import pytest

from ai.pricing import cost_usd
from ai.verdict import AIDecision, Verdict, verdict

ANSWER = AIDecision(action="LONG", confidence=72, reasoning="Fresh EMA cross.", risk_level="MEDIUM")


@pytest.mark.parametrize(("side", "min_confidence", "expected"), [
    ("LONG", 70, Verdict(True, "")),
    ("LONG", 72, Verdict(True, "")),  # the minimum itself is enough
    ("LONG", 73, Verdict(False, "AI confidence 72 is below the strategy's minimum 73")),
    ("SHORT", 70, Verdict(False, "AI disagrees: it says LONG (72%)")),
    ("SHORT", 90, Verdict(False, "AI disagrees: it says LONG (72%)")),  # disagreement is the first reason
])
def test_the_verdict_on_a_signal(side, min_confidence, expected):
    assert verdict(ANSWER, side=side, min_confidence=min_confidence) == expected


def test_the_cycle_shows_the_models_reasoning_with_a_disagreement():
    hold = AIDecision(action="HOLD", confidence=60, reasoning="No momentum.", risk_level="LOW")
    judged = verdict(hold, side="LONG", min_confidence=50, with_reasoning=True)
    assert judged == Verdict(False, "AI disagrees: it says HOLD (60%): No momentum.")
    assert verdict(ANSWER, side="LONG", min_confidence=80, with_reasoning=True).reason == (
        "AI confidence 72 is below the strategy's minimum 80")


def test_a_stored_answer_reads_as_a_cached_decision():
    class Row:  # the fields of an AICall row
        action, confidence, reasoning, risk_level = "SHORT", 81, "Overbought.", "HIGH"

    assert AIDecision.from_call(Row()) == AIDecision("SHORT", 81, "Overbought.", "HIGH", cached=True)


def test_the_cost_is_tokens_times_per_million_prices_unrounded():
    cost = cost_usd(812, 64, input_per_mtok=Decimal("0.15"), output_per_mtok=Decimal("0.60"))
    assert cost == Decimal("0.0001602")  # (812 x 0.15 + 64 x 0.60) / 1e6
    assert cost * 1000 == Decimal("0.1602")  # an estimate for many questions keeps every digit
    assert cost_usd(0, 0, input_per_mtok=Decimal("0.15"), output_per_mtok=Decimal("0.60")) == 0
