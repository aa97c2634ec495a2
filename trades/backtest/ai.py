"""AI confirmation in backtests: off unless asked for, and then answered only from the decision cache.

A backtest never calls the model. With ``--ai`` it first says how many questions the live cycle would
have asked (one per LONG/SHORT signal candle at most: the cycle asks only while flat, and once per
candle) and what they would cost at ``OPENAI_PRICE_*``, then replays the answers stored as ``AICall``
rows (the live cycle's cache, keyed by strategy, symbol, timeframe and candle). A signal without a
stored answer is skipped, as the live cycle skips a trade when the AI cannot answer: never a guess.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

import numpy as np
import pandas as pd
from django.conf import settings
from django.db.models import Avg

from ai.models import AICall
from ai.pricing import cost_usd
from ai.prompt import PROMPT_VERSION, render_messages
from ai.verdict import AIDecision, verdict
from strategies.signals import indicator_snapshot
from trades.backtest.inputs import SignalEvents, StrategySpec

CHARS_PER_TOKEN = 4  # a rough rule for English and numbers; used only when no call has been recorded yet
COMPLETION_TOKENS = 120  # a decision's JSON with a one-paragraph reasoning
RECENT_CANDLES = 20  # what the live cycle sends (trades.cycle.AI_RECENT_CANDLES)


@dataclass(frozen=True)
class AIEstimate:
    questions: int  # at most this many: one per signal candle
    cached: int  # of which answered already
    prompt_tokens: int  # per question
    completion_tokens: int
    cost_usd: Decimal  # for all the questions at OPENAI_PRICE_*
    measured: bool  # token counts averaged from recorded calls (else estimated from the prompt's length)

    def describe(self) -> str:
        how = "averaged from recorded calls" if self.measured else "estimated from the prompt's length"
        return (f"AI confirmation: up to {self.questions} questions (one per LONG/SHORT signal candle), "
                f"~{self.prompt_tokens} prompt + {self.completion_tokens} completion tokens each ({how}), "
                f"about {self.cost_usd:.4f} USD at OPENAI_PRICE_*; {self.cached} answered in the decision cache. "
                f"A backtest never calls the API: signals without a cached answer are skipped.")


def _cached_answers(spec: StrategySpec, symbol: str, events: SignalEvents) -> dict[int, AICall]:
    times = pd.to_datetime(events.candle_time, utc=True)
    calls = AICall.objects.filter(strategy_id=spec.strategy_id, symbol=symbol, timeframe=spec.timeframe,
                                  status=AICall.Status.OK, candle_time__in=list(times.to_pydatetime()))
    return {pd.Timestamp(call.candle_time).as_unit("ns").value: call for call in calls}


def estimate(spec: StrategySpec, symbol: str, events: SignalEvents, frame: pd.DataFrame) -> AIEstimate:
    """What asking about every signal would cost; ``frame`` is the strategy's candles with indicators."""
    cached = len(_cached_answers(spec, symbol, events)) if spec.strategy_id else 0
    recorded = AICall.objects.filter(prompt_tokens__gt=0).aggregate(p=Avg("prompt_tokens"), c=Avg("completion_tokens"))
    if recorded["p"]:
        prompt, completion, measured = round(recorded["p"]), round(recorded["c"] or 0), True
    else:
        prompt, completion, measured = _prompt_tokens(spec, symbol, events, frame), COMPLETION_TOKENS, False
    each = cost_usd(prompt, completion, input_per_mtok=settings.OPENAI_PRICE_INPUT_PER_MTOK,
                    output_per_mtok=settings.OPENAI_PRICE_OUTPUT_PER_MTOK)
    return AIEstimate(questions=len(events), cached=cached, prompt_tokens=prompt, completion_tokens=completion,
                      cost_usd=each * len(events), measured=measured)


def cache_filter(spec: StrategySpec, symbol: str, events: SignalEvents) -> Callable[[int], str]:
    """``filter(event_index)``: "" when the stored answer confirms the signal, otherwise why it does not."""
    answers = _cached_answers(spec, symbol, events) if spec.strategy_id else {}
    candle_times, actions = events.candle_time.tolist(), events.action.tolist()

    def check(index: int) -> str:
        call = answers.get(candle_times[index])
        wanted = "LONG" if actions[index] > 0 else "SHORT"
        if call is None:
            return "AI: no cached answer for this candle (a backtest never calls the API)"
        return verdict(AIDecision.from_call(call), side=wanted, min_confidence=spec.min_ai_confidence).reason

    return check


def _prompt_tokens(spec: StrategySpec, symbol: str, events: SignalEvents, frame: pd.DataFrame) -> int:
    if not len(events) or frame.empty:
        return 0
    row = int(np.searchsorted(frame.index.as_unit("ns").asi8, events.candle_time[0]))
    last = frame.iloc[row]
    messages = render_messages(
        version=PROMPT_VERSION, strategy_type=spec.type, symbol=symbol, timeframe=spec.timeframe,
        candle_time=frame.index[row].to_pydatetime(), price=Decimal(repr(float(last["close"]))),
        indicators=indicator_snapshot(frame, row),
        recent_candles=frame.iloc[max(0, row - RECENT_CANDLES + 1):row + 1])
    return sum(len(message["content"]) for message in messages) // CHARS_PER_TOKEN
