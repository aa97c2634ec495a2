"""One backtest end to end: candles, signals, simulation, Decimal ledger, report, and the stored run.

``prepare`` does everything up to the simulation (so the command can show the AI estimate before it
starts), ``complete`` runs it, ``store`` saves a ``BacktestRun``. ``commands.launch_backtest`` (a pending row now)
and ``run_pending`` (the work, in a Celery task) are the dashboard's and the API's way in.
"""

from __future__ import annotations

import hashlib
import logging
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal
from functools import cache
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from core.events import Event, publish
from market.instruments import BUNDLED_RULES
from market.intervals import INTERVAL_MINUTES
from market.types import InstrumentRules
from strategies.sdk.kernel import StrategyError
from trades.backtest import ai, costs, portfolio
from trades.backtest.data import BUNDLED, CandleData, funding_rates, load_candles
from trades.backtest.engine import EngineConfig, EngineResult, Minutes, simulate
from trades.backtest.inputs import (
    CandleCloses,
    SignalEvents,
    StrategySignals,
    StrategySpec,
    candle_closes,
    signal_events,
    strategy_signals,
)
from trades.backtest.ledger import Ledger, replay_ledger
from trades.backtest.models import BacktestRun
from trades.backtest.perpetual import FundingSchedule
from trades.backtest.report import Report, build_report

logger = logging.getLogger(__name__)

Progress = Callable[[float, str], None]
REPO = Path(__file__).resolve().parent.parent.parent
ENGINE_SOURCES = ("trades/backtest/engine.py", "trades/backtest/inputs.py", "trades/backtest/ledger.py",
                  "trades/backtest/report.py", "market/fills.py", "market/candles.py", "trades/risk.py",
                  "trades/metrics.py", "strategies/indicators.py", "strategies/rules.py", "strategies/signals.py",
                  "strategies/sdk/kernel.py", "strategies/sdk/base.py", "strategies/builtin/rule_based.py",
                  "market/exits.py", "strategies/sdk/trade_exits.py", "market/funding.py", "market/liquidation.py",
                  "trades/backtest/perpetual.py", "trades/backtest/portfolio.py", "trades/backtest/breakdowns.py",
                  "trades/backtest/records.py", "trades/backtest/equity.py", "trades/backtest/fast_path.py",
                  "strategies/talib_pass.py", "strategies/smoothing.py")
# For symbols without known rules (a file or download of another pair): fine steps, Bybit's usual minimum value.
GENERIC_RULES = dict(tick_size=Decimal("0.0001"), qty_step=Decimal("0.001"), min_qty=Decimal("0.001"),
                     max_qty=Decimal("1000000000"), min_notional=Decimal("5"))


@dataclass(frozen=True)
class RunSettings:
    symbol: str
    start: datetime
    end: datetime
    source: str = BUNDLED
    initial_balance: Decimal = costs.INITIAL_BALANCE
    fee_rate: Decimal = costs.FEE_RATE
    slippage_bps: Decimal = costs.SLIPPAGE_BPS
    use_ai: bool = False
    note: str = ""  # the requested range was cut to the candles there are (data.fit_range)
    symbols: tuple[str, ...] = ()  # a portfolio run: these symbols on one wallet (``symbol`` is the first)
    funding: bool = True  # funding every 8 h (market.funding): the rates downloaded, else the assumed one

    @property
    def all_symbols(self) -> tuple[str, ...]:
        return self.symbols or (self.symbol,)

    @property
    def is_portfolio(self) -> bool:
        return len(self.all_symbols) > 1

    def as_parameters(self) -> dict:
        return {"symbol": self.symbol, **({"symbols": list(self.symbols)} if self.is_portfolio else {}),
                "funding": self.funding, "start": self.start.isoformat(), "end": self.end.isoformat(),
                "source": self.source, "initial_balance": str(self.initial_balance), "fee_rate": str(self.fee_rate),
                "slippage_bps": str(self.slippage_bps), "use_ai": self.use_ai,
                "max_order_notional": str(settings.MAX_ORDER_NOTIONAL), "bot_timezone": settings.BOT_TIMEZONE,
                "warmup_candles": settings.CYCLE_KLINE_LIMIT, "note": self.note}

    @classmethod
    def from_parameters(cls, parameters: dict) -> RunSettings:
        return cls(symbol=parameters["symbol"], start=parse_datetime(parameters["start"]),
                   end=parse_datetime(parameters["end"]), source=parameters.get("source", BUNDLED),
                   initial_balance=Decimal(parameters["initial_balance"]), fee_rate=Decimal(parameters["fee_rate"]),
                   slippage_bps=Decimal(parameters["slippage_bps"]), use_ai=bool(parameters.get("use_ai")),
                   note=parameters.get("note", ""), symbols=tuple(parameters.get("symbols") or ()),
                   funding=bool(parameters.get("funding", False)))  # runs stored before funding had none


@dataclass(frozen=True)
class Prepared:
    spec: StrategySpec
    settings: RunSettings
    data: CandleData
    signals: StrategySignals
    minutes: Minutes
    events: SignalEvents
    closes: CandleCloses | None  # the strategy's exit signals and custom exit hooks, when it has any
    config: EngineConfig
    ai_estimate: ai.AIEstimate | None
    started: float
    legs: tuple[Prepared, ...] = ()  # a portfolio run: one per symbol (this one's fields are the first symbol's)


@dataclass(frozen=True)
class Outcome:
    prepared: Prepared
    result: EngineResult
    ledger: Ledger
    report: Report
    elapsed_ms: int


def instrument_rules(symbol: str) -> InstrumentRules:
    return BUNDLED_RULES.get(symbol) or InstrumentRules(symbol, **GENERIC_RULES)


def warmup_for(spec: StrategySpec) -> timedelta:
    """The history the live cycle would have had: CYCLE_KLINE_LIMIT candles of the longest timeframe used."""
    longest = max(INTERVAL_MINUTES[spec.timeframe], INTERVAL_MINUTES.get(spec.confirm_timeframe, 0))
    return timedelta(minutes=settings.CYCLE_KLINE_LIMIT * longest)


def prepare(spec: StrategySpec, run: RunSettings, *, data: CandleData | None = None,
            progress: Progress | None = None) -> Prepared:
    if run.is_portfolio:
        return _prepare_portfolio(spec, run, progress=progress)
    started = time.perf_counter()
    report = progress or (lambda fraction, phase: None)
    report(0.0, "loading candles")
    if data is None:
        data = load_candles(run.symbol, run.start, run.end, source=run.source, warmup=warmup_for(spec))
    report(0.05, "computing signals")
    signals = strategy_signals(spec, data.frame, symbol=run.symbol)
    minutes = Minutes.from_frame(data.frame, settings.BOT_TIMEZONE)
    events = signal_events(signals.frame, signals.actions, spec.timeframe, minutes.start, data.trade_from)
    closes = candle_closes(signals, spec.timeframe, minutes.start, run.symbol)
    schedule = FundingSchedule.build(minutes.start, funding_rates(run.symbol, run.source)) if run.funding else None
    config = EngineConfig(rules=instrument_rules(run.symbol), risk=spec.risk, initial_balance=run.initial_balance,
                          fee_rate=run.fee_rate, slippage_bps=run.slippage_bps,
                          max_notional=settings.MAX_ORDER_NOTIONAL, daily_loss_limit=spec.max_daily_loss_percentage,
                          funding=schedule)
    estimate = None
    if run.use_ai and spec.use_ai_confirmation:
        estimate = ai.estimate(spec, run.symbol, events, signals.frame)
    return Prepared(spec=spec, settings=run, data=data, signals=signals, minutes=minutes, events=events,
                    closes=closes, config=config, ai_estimate=estimate, started=started)


def _prepare_portfolio(spec: StrategySpec, run: RunSettings, *, progress: Progress | None = None) -> Prepared:
    """Each symbol prepared as a one-symbol run over the same range; the first one's fields stand for the run."""
    started = time.perf_counter()
    legs = tuple(prepare(spec, replace(run, symbol=symbol, symbols=()), progress=progress)
                 for symbol in run.all_symbols)
    estimates = [leg.ai_estimate for leg in legs if leg.ai_estimate is not None]
    estimate = None
    if estimates:  # every symbol's questions: the counts and the cost add up, the tokens per question average
        estimate = ai.AIEstimate(
            questions=sum(e.questions for e in estimates), cached=sum(e.cached for e in estimates),
            prompt_tokens=round(sum(e.prompt_tokens for e in estimates) / len(estimates)),
            completion_tokens=round(sum(e.completion_tokens for e in estimates) / len(estimates)),
            cost_usd=sum((e.cost_usd for e in estimates), Decimal(0)), measured=all(e.measured for e in estimates))
    return replace(legs[0], settings=run, legs=legs, ai_estimate=estimate, started=started)


def complete(prepared: Prepared, *, progress: Progress | None = None) -> Outcome:
    if prepared.legs:
        return _complete_portfolio(prepared, progress=progress)
    report = progress or (lambda fraction, phase: None)
    spec, run = prepared.spec, prepared.settings
    ai_filter = ai.cache_filter(spec, run.symbol, prepared.events) if prepared.ai_estimate is not None else None
    try:
        result = simulate(prepared.minutes, prepared.events, prepared.config, trade_from=prepared.data.trade_from,
                          ai_filter=ai_filter, closes=prepared.closes,
                          progress=lambda fraction: report(0.15 + 0.75 * fraction, "simulating"))
    except StrategyError as error:  # its custom_exit / custom_stoploss raised: a bad input, named, not a crash
        raise ValidationError(str(error)) from None
    report(0.9, "building the report")
    ledger = replay_ledger(result, prepared.minutes, prepared.config)
    built = build_report(result, ledger, prepared.data, timeframe=spec.timeframe,
                         initial_balance=run.initial_balance)
    report(1.0, "done")
    return Outcome(prepared=prepared, result=result, ledger=ledger, report=built,
                   elapsed_ms=round((time.perf_counter() - prepared.started) * 1000))


def _complete_portfolio(prepared: Prepared, *, progress: Progress | None = None) -> Outcome:
    report = progress or (lambda fraction, phase: None)
    spec = prepared.spec
    legs = [portfolio.Leg(symbol=leg.settings.symbol, minutes=leg.minutes, events=leg.events, config=leg.config,
                          closes=leg.closes, trade_from=leg.data.trade_from,
                          ai_filter=(ai.cache_filter(spec, leg.settings.symbol, leg.events)
                                     if leg.ai_estimate is not None else None))
            for leg in prepared.legs]
    try:
        result = portfolio.simulate_portfolio(legs, prepared.config, max_positions=spec.risk.max_positions,
                                              progress=lambda fraction: report(0.15 + 0.75 * fraction, "simulating"))
    except StrategyError as error:
        raise ValidationError(str(error)) from None
    report(0.9, "building the report")
    ledger = portfolio.joined_ledger(result, legs)
    joined = EngineResult(trades=[], open_trade=None, equity=result.equity, exposure=result.exposure,
                          outcomes=result.outcomes, details=result.details, final_equity=result.final_equity,
                          fees_paid=0.0, trade_from=result.trade_from)
    built = build_report(joined, ledger, prepared.data, timeframe=spec.timeframe,
                         initial_balance=prepared.settings.initial_balance)
    built.metrics["symbols"] = list(prepared.settings.all_symbols)
    built.metrics["max_positions"] = spec.risk.max_positions
    built.metrics["max_open_positions"] = result.max_open
    report(1.0, "done")
    return Outcome(prepared=prepared, result=joined, ledger=ledger, report=built,
                   elapsed_ms=round((time.perf_counter() - prepared.started) * 1000))


def execute(spec: StrategySpec, run: RunSettings, *, progress: Progress | None = None) -> Outcome:
    return complete(prepare(spec, run, progress=progress), progress=progress)


def parameters_of(spec: StrategySpec, run: RunSettings) -> dict:
    return {"strategy": spec.as_parameters(), "run": run.as_parameters()}


def store(outcome: Outcome, run: BacktestRun | None = None) -> BacktestRun:
    """Save ``outcome`` into ``run`` (or a new row)."""
    prepared, built = outcome.prepared, outcome.report
    spec, settings_ = prepared.spec, prepared.settings
    run = run or BacktestRun(strategy_id=spec.strategy_id)
    run.name, run.symbol, run.timeframe = spec.name or spec.type, symbol_label(settings_), spec.timeframe
    run.start, run.end = settings_.start, settings_.end
    run.parameters = parameters_of(spec, settings_)
    if prepared.ai_estimate is not None:
        run.parameters["ai_estimate"] = prepared.ai_estimate.describe()
    run.data, run.data_checksum = prepared.data.describe(), prepared.data.checksum
    run.code_version = code_version()
    run.initial_balance = settings_.initial_balance
    run.final_equity = outcome.ledger.final_equity
    run.total_return_pct = Decimal(built.metrics["total_return_pct"])
    run.trades_count = built.metrics["trades"]
    run.metrics, run.equity_curve, run.trades, run.chart = built.metrics, built.equity_curve, built.trades, built.chart
    run.duration_ms = outcome.elapsed_ms
    run.status, run.progress, run.error, run.finished_at = BacktestRun.Status.DONE, 100, "", timezone.now()
    run.save()
    return run


def symbol_label(run: RunSettings) -> str:
    """What the run's symbol column says: the symbol, or a portfolio's symbols joined by commas."""
    return ",".join(run.all_symbols)[:50]


def run_pending(run_id: int) -> str:
    """Claim a pending run (only one worker can) and run it, telling every dashboard how far it got."""
    if not BacktestRun.objects.filter(pk=run_id, status=BacktestRun.Status.PENDING).update(
            status=BacktestRun.Status.RUNNING, progress=0):
        return "not pending"
    run = BacktestRun.objects.get(pk=run_id)
    last = [-1]

    def progress(fraction: float, phase: str) -> None:
        percent = int(fraction * 100)
        if percent >= last[0] + 5 or fraction >= 1.0:
            last[0] = percent
            BacktestRun.objects.filter(pk=run_id).update(progress=percent)
            publish(Event.BACKTEST_PROGRESS, {"id": run_id, "status": "running", "progress": percent, "phase": phase})

    try:
        parameters = run.parameters
        spec = StrategySpec.from_parameters(parameters["strategy"])
        outcome = execute(spec, RunSettings.from_parameters(parameters["run"]), progress=progress)
        store(outcome, run)
    except Exception as error:  # noqa: BLE001 - recorded on the run and shown on the page
        logger.exception("backtest failed", extra={"backtest": run_id, "symbol": run.symbol})
        BacktestRun.objects.filter(pk=run_id).update(status=BacktestRun.Status.FAILED, error=str(error)[:2000],
                                                     finished_at=timezone.now())
        publish(Event.BACKTEST_PROGRESS, {"id": run_id, "status": "failed", "progress": last[0], "error": str(error)})
        return "failed"
    publish(Event.BACKTEST_PROGRESS, {"id": run_id, "status": "done", "progress": 100,
                                      "total_return_pct": run.metrics["total_return_pct"],
                                      "url": run.get_absolute_url()})
    return "done"


@cache
def code_version() -> str:
    """``git describe`` of the checkout (when there is one) and a hash of the engine's sources."""
    digest = hashlib.sha256()
    for name in ENGINE_SOURCES:
        digest.update((REPO / name).read_bytes())
    engine = f"engine-{digest.hexdigest()[:12]}"
    try:
        described = subprocess.run(["git", "describe", "--always", "--dirty"], cwd=REPO, capture_output=True,
                                   text=True, timeout=5, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return engine
    return f"{described} {engine}" if described else engine
