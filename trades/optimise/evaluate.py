"""A parameter set backtested on every symbol of a run over one window, through the backtests' own runner
(``trades.backtest.runner.prepare`` / ``complete``: the engine, the Decimal ledger, the report), combined.

Candles are read once per process and window (``candles``), never sent through the broker: a worker that runs
300 trials of one fold reads its candles once.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import numpy as np
import pandas as pd
from django.core.exceptions import ValidationError

from trades.backtest.data import CandleData, DataError, load_candles
from trades.backtest.inputs import StrategySpec
from trades.backtest.report import downsample
from trades.backtest.runner import Outcome, RunSettings, complete, prepare, warmup_for
from trades.optimise.objectives import SHOWN, combined
from trades.optimise.space import Space

CACHED_WINDOWS = 24
CURVE_POINTS = 300  # per fold's test window: the stitched curve of a 20-fold run stays a few thousand points

_candles: OrderedDict[tuple, CandleData] = OrderedDict()


class TrialRefused(Exception):
    """The parameters cannot be backtested (a combination the class refuses, a stop the leverage would liquidate
    first...): the trial is pruned with this reason."""


@dataclass(frozen=True)
class Evaluation:
    figures: dict  # SHOWN figures, every symbol combined
    per_symbol: dict[str, dict]  # symbol -> its SHOWN figures
    outcomes: list[Outcome]


def candles(symbol: str, source: str, start: datetime, end: datetime, spec: StrategySpec) -> CandleData:
    """The window's 1-minute candles (and the warm-up before it), read once per process."""
    warmup = warmup_for(spec)
    key = (symbol, source, start, end, warmup)
    if key in _candles:
        _candles.move_to_end(key)
        return _candles[key]
    data = load_candles(symbol, start, end, source=source, warmup=warmup)
    _candles[key] = data
    while len(_candles) > CACHED_WINDOWS:
        _candles.popitem(last=False)
    return data


def trial_spec(base: StrategySpec, space: Space, params: dict) -> StrategySpec:
    """``base`` with the trial's values, checked as a Strategy's would be."""
    indicators, risk = space.split(params)
    try:
        spec = base.with_indicators(**indicators) if indicators else base
        return spec.with_risk(**risk) if risk else spec
    except ValidationError as error:
        raise TrialRefused("refused: " + " ".join(error.messages)) from None


def run_settings(costs: dict, symbol: str, start: datetime, end: datetime) -> RunSettings:
    return RunSettings(symbol=symbol, start=start, end=end, source=costs["source"],
                       initial_balance=Decimal(costs["initial_balance"]), fee_rate=Decimal(costs["fee_rate"]),
                       slippage_bps=Decimal(costs["slippage_bps"]))


def evaluate(spec: StrategySpec, symbols: list[str], costs: dict, start: datetime, end: datetime, *,
             beat: Callable[[], None] | None = None) -> Evaluation:
    """Backtest ``spec`` on each symbol over ``[start, end)``; ``beat`` is called as the work goes on (the slot's
    heartbeat). Raises TrialRefused when a backtest refuses the parameters."""
    outcomes, per_symbol = [], {}
    for symbol in symbols:
        settings_ = run_settings(costs, symbol, start, end)
        try:
            data = candles(symbol, costs["source"], start, end, spec)
            outcome = complete(prepare(spec, settings_, data=data, progress=_beating(beat)),
                               progress=_beating(beat))
        except (ValidationError, DataError) as error:
            messages = error.messages if isinstance(error, ValidationError) else [str(error)]
            raise TrialRefused(f"{symbol}: " + " ".join(messages)) from None
        outcomes.append(outcome)
        per_symbol[symbol] = {key: outcome.report.metrics.get(key) for key in SHOWN}
    return Evaluation(figures=combined(list(per_symbol.values())), per_symbol=per_symbol, outcomes=outcomes)


def equity_curve(outcomes: list[Outcome]) -> list[list]:
    """The symbols' equity over the window as one account with the balance split evenly between them: the mean of
    each symbol's equity over its own balance, times the balance; [time ms, equity], downsampled."""
    series = []
    for outcome in outcomes:
        data, result = outcome.prepared.data, outcome.result
        times = data.frame.index[data.trade_from:]
        if len(result.equity) != len(times) or not len(times):
            continue
        balance = float(outcome.prepared.settings.initial_balance)
        series.append(pd.Series(result.equity / balance, index=times))
    if not series:
        return []
    joined = pd.concat(series, axis=1).sort_index().ffill().bfill()
    balance = float(outcomes[0].prepared.settings.initial_balance)
    equity = joined.mean(axis=1).to_numpy() * balance
    times = joined.index.as_unit("ns").asi8
    return [[point[0], point[1]] for point in downsample(np.asarray(equity), times, CURVE_POINTS)]


def _beating(beat: Callable[[], None] | None):
    if beat is None:
        return None
    return lambda fraction, phase: beat()
