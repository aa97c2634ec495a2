"""What an AI answer means for a signal, spelled once for the live cycle and the backtest.

Pure: no database, no network. The cycle judges the answer it just got, a backtest the answer
stored in the decision cache; both reach the same verdict, in the same words.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AIDecision:
    action: str  # LONG, SHORT or HOLD
    confidence: int  # 0..100
    reasoning: str
    risk_level: str  # LOW, MEDIUM or HIGH
    cached: bool = False

    @classmethod
    def from_call(cls, call) -> AIDecision:
        """The answer stored on a valid ``AICall`` row (the decision cache)."""
        return cls(action=call.action, confidence=call.confidence, reasoning=call.reasoning,
                   risk_level=call.risk_level, cached=True)


@dataclass(frozen=True)
class Verdict:
    confirms: bool
    reason: str  # why the signal must not be taken; "" when it confirms


def verdict(answer: AIDecision, *, side: str, min_confidence: int, with_reasoning: bool = False) -> Verdict:
    """Whether ``answer`` confirms a ``side`` ("LONG" or "SHORT") signal of a strategy that wants at
    least ``min_confidence``. ``with_reasoning`` adds the model's reasoning to a disagreement: the
    cycle's decision log shows why the model objected, a backtest keeps one short line per signal."""
    if answer.action != side:
        reason = f"AI disagrees: it says {answer.action} ({answer.confidence}%)"
        return Verdict(False, f"{reason}: {answer.reasoning}" if with_reasoning else reason)
    if answer.confidence < min_confidence:
        return Verdict(False, f"AI confidence {answer.confidence} is below the strategy's minimum {min_confidence}")
    return Verdict(True, "")
