"""The trading cycle (ARCHITECTURE.md, "Trading Cycle"), for a set of strategies.

1. (the Celery task) pick the active strategies    2. klines for every symbol and timeframe
3-4. indicators and signal (strategies/, pure)      4b. exit signals and custom exits of open trades
5. AI confirmation when asked for (ai/)
6. risk checks and sizing (trades/risk.py)          7-8. pending Trade row, order, fill, SL/TP
9. live events and notifications after commit

Before step 2, open trades whose strategy's time exit is due are closed (``close_timed_out``), so the slot they
free counts in this cycle, as the backtest frees it at that minute's open.

All network calls of a phase run concurrently (klines, AI questions, orders), so a hundred
strategy x symbol pairs cost a few round trips, not a hundred. Decisions that change money (which
entries get a slot, how big they are) are taken one strategy at a time under that strategy's lease.
"""

from __future__ import annotations

import functools
import logging
import time
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

import pandas as pd
from django.db import IntegrityError, connections, transaction
from django.utils import timezone

from ai.verdict import verdict
from core.security import strategy_trading_refusal
from exchange.base import Exchange
from exchange.bybit_http import POOL_SIZE
from market import exits
from market.candles import closed_candles
from market.errors import ExchangeError
from market.intervals import INTERVAL_MINUTES
from market.order_ids import entry_order_link_id
from market.types import Balance
from strategies import catalogue
from strategies.models import Strategy
from strategies.sdk.base import bybit_interval
from strategies.signals import Action, Signal, SignalMemo, StrategyError
from trades import announce, locks
from trades.decision_log import write_decisions
from trades.entries import entries_stopped
from trades.execution import Execution, execute_entry, execute_exit
from trades.models import LIVE_STATUSES, DecisionOutcome, Trade, TradeStatus
from trades.pause import check_daily_loss
from trades.risk import EntryPlan, RiskParams, RiskRejected, plan_entry
from trades.strategy_exits import manage_open_trades

logger = logging.getLogger(__name__)

AI_RECENT_CANDLES = 20


@dataclass
class PairOutcome:
    strategy: Strategy
    symbol: str
    signal: Signal | None = None
    frame: pd.DataFrame | None = None
    outcome: str = DecisionOutcome.HOLD
    detail: str = ""
    ai_confidence: int | None = None
    ai_reasoning: str = ""
    plan: EntryPlan | None = None
    trade: Trade | None = None
    note: str = ""  # what was done to the open trade the strategy holds here (trades.strategy_exits)

    @property
    def action(self) -> str:
        return self.signal.action.value if self.signal else Action.HOLD.value

    @property
    def why(self) -> str:
        """One line for logs and tables: what was done to its open trade, then the check that stopped it, the
        conditions that fired, or how close a HOLD came (the full reasons stay on the Decision row)."""
        return "; ".join(text for text in (self.note, self._entry_why()) if text)

    def _entry_why(self) -> str:
        if self.detail:
            return self.detail
        if self.signal is None:
            return ""
        reasons = self.signal.reasons
        if self.signal.action != Action.HOLD:
            return "; ".join(reasons)  # the conditions that fired
        counts = []
        for side in ("LONG", "SHORT"):
            met = sum(reason.startswith(f"{side} met") for reason in reasons)
            total = met + sum(reason.startswith(f"{side} not met") for reason in reasons)
            if total:
                counts.append(f"{side} {met}/{total}")
        return f"no setup ({', '.join(counts)} conditions met)" if counts else "; ".join(reasons)

    @property
    def going(self) -> bool:
        """Still on its way to an order (no check has stopped it yet)."""
        return self.signal is not None and self.signal.action != Action.HOLD and self.outcome == DecisionOutcome.HOLD

    def stop(self, outcome: str, detail: str) -> None:
        self.outcome, self.detail = outcome, detail


@dataclass
class CycleReport:
    pairs: list[PairOutcome] = field(default_factory=list)
    balance: Balance | None = None
    errors: list[str] = field(default_factory=list)

    @property
    def orders(self) -> int:
        return sum(1 for pair in self.pairs if pair.trade is not None)


def in_pool_thread(function):
    """``function`` for a thread of one of the cycle's short-lived pools: whatever database connection the thread
    opened (the paper exchange reads its tables) is closed when the call ends, not left to the garbage collector
    after the pool is gone."""

    @functools.wraps(function)
    def run(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        finally:
            connections.close_all()

    return run


class TradingCycle:
    def __init__(self, *, exchange: Exchange, ai_service=None, ai_unavailable_reason: str = "",
                 kline_limit: int = 200, lock_seconds: int = 120, max_notional: Decimal = Decimal("100000"),
                 max_workers: int = POOL_SIZE, dry_run: bool = False, sleep: Callable[[float], None] = time.sleep):
        self.exchange = exchange
        self.ai = ai_service
        self.ai_unavailable_reason = ai_unavailable_reason or "AI confirmation is not configured"
        self.kline_limit = kline_limit
        self.lock_seconds = lock_seconds
        self.max_notional = max_notional
        self.max_workers = max_workers
        self.dry_run = dry_run
        self.sleep = sleep

    # Orchestration --------------------------------------------------------------------------------
    def run(self, strategies: list[Strategy]) -> CycleReport:
        report = CycleReport()
        pairs = [PairOutcome(strategy, symbol) for strategy in strategies for symbol in strategy.symbols]
        if not pairs:
            return report
        # A strategy file changed since the last run is read now, between runs: never under a running cycle.
        catalogue.refresh()
        market_now = self.exchange.server_time()
        if not self.dry_run:
            report.errors += close_timed_out(self.exchange, market_now, strategies, sleep=self.sleep)
        memo = SignalMemo()  # strategies with the same class and settings on the same candles share one evaluation
        # Each pair is evaluated as soon as every frame it reads has arrived, while the rest are still being fetched
        # (the fetch is paced to Bybit's limit per address: the evaluation fills its waits, not the time after it).
        intervals = {id(strategy): frame_intervals(strategy) for strategy in strategies}  # unsaved ones too
        waiting = {index: {(pair.symbol, interval) for interval in intervals[id(pair.strategy)]}
                   for index, pair in enumerate(pairs)}
        needed_by = defaultdict(list)
        for index, keys in waiting.items():
            for key in keys:
                needed_by[key].append(index)

        def arrived(key, frames):
            for index in needed_by.pop(key, ()):
                waiting[index].discard(key)
                if not waiting[index]:
                    self._evaluate(pairs[index], frames, memo)

        frames, balance, held_symbols = self._fetch(strategies, market_now, report, arrived)
        report.balance = balance
        # Before entries: a trade its strategy closes frees its symbol and slot for this cycle, as in the backtest.
        report.errors += manage_open_trades(pairs, exchange=self.exchange, dry_run=self.dry_run, sleep=self.sleep)
        going = [pair for pair in pairs if pair.going]
        if going:
            self._pre_checks(going, held_symbols, balance)
            self._confirm_with_ai([pair for pair in going if pair.going])
            entries = [pair for pair in going if pair.going]
            if entries and balance is None:
                for pair in entries:
                    pair.stop(DecisionOutcome.FAILED, "balance unavailable: " + "; ".join(report.errors))
            elif entries:
                self._enter(entries, balance)
        report.pairs = pairs
        self._record(pairs)
        self._announce_market(frames)
        if balance is not None and not self.dry_run:
            self._announce_balance(report)
        return report

    # Step 2: market data, fetched concurrently ----------------------------------------------------
    def _fetch(self, strategies, market_now: datetime, report: CycleReport,
               arrived: Callable[[tuple[str, str], dict], None] = lambda key, frames: None):
        """Every (symbol, interval) any strategy reads, once, with the balance and positions. ``arrived(key,
        frames)`` is called on this thread as each frame (or its error) lands in ``frames``, in arrival order."""
        keys = {(symbol, interval) for strategy in strategies for interval in frame_intervals(strategy)
                for symbol in strategy.symbols}

        def klines(key):
            symbol, interval = key
            frame = self.exchange.get_kline_frame(symbol, interval, self.kline_limit + 1)
            return closed_candles(frame, interval, market_now).tail(self.kline_limit)

        frames = {}
        with ThreadPoolExecutor(max_workers=self.max_workers) as pool:
            # Submitted first: behind a paced fetch of a thousand klines they would wait for all of them.
            balance_future = pool.submit(in_pool_thread(self.exchange.get_balance))
            positions_future = pool.submit(in_pool_thread(self.exchange.get_positions))
            frame_futures = {pool.submit(in_pool_thread(klines), key): key for key in keys}
            try:
                for future in as_completed(frame_futures):
                    key = frame_futures[future]
                    try:
                        frames[key] = future.result()
                    except Exception as error:  # noqa: BLE001 - one symbol's failure must not stop the others
                        frames[key] = error
                    arrived(key, frames)
            except BaseException:
                pool.shutdown(cancel_futures=True)  # an evaluation raised: the rest of the fetch is not needed
                raise
        balance = held = None
        try:
            balance = balance_future.result()
        except ExchangeError as error:
            report.errors.append(f"balance: {error}")
        try:
            held = {position.symbol for position in positions_future.result() if position.size > 0}
        except ExchangeError as error:
            report.errors.append(f"positions: {error}")
        return frames, balance, held

    # Steps 3-4: indicators and signal (pure) -----------------------------------------------------
    def _evaluate(self, pair: PairOutcome, frames: dict, memo: SignalMemo) -> None:
        strategy = pair.strategy
        frame = frames.get((pair.symbol, strategy.timeframe))
        if isinstance(frame, Exception):
            pair.stop(DecisionOutcome.FAILED, f"klines unavailable: {frame}")
            return
        higher = frames.get((pair.symbol, strategy.confirm_timeframe)) if strategy.confirm_timeframe else None
        if isinstance(higher, Exception):
            pair.stop(DecisionOutcome.FAILED, f"{strategy.confirm_timeframe} klines unavailable: {higher}")
            return
        if catalogue.strategy_class(strategy.type) is None:
            pair.stop(DecisionOutcome.FAILED, missing_class(strategy.type))
            return
        informative = {timeframe: frames.get((pair.symbol, interval))
                       for timeframe, interval in informative_intervals(strategy).items()}
        for timeframe, candles in informative.items():
            if isinstance(candles, Exception):
                pair.stop(DecisionOutcome.FAILED, f"{timeframe} klines unavailable: {candles}")
                return
        pair.frame = frame
        metadata = {"pair": pair.symbol, "timeframe": strategy.timeframe, "informative": informative}
        try:
            pair.signal = memo.evaluate(strategy.type, frame, strategy.indicators, higher_frame=higher,
                                        metadata=metadata, frame_key=(pair.symbol, strategy.timeframe),
                                        higher_key=(pair.symbol, strategy.confirm_timeframe))
        except StrategyError as error:
            pair.stop(DecisionOutcome.FAILED, f"strategy error: {error}")

    # Step 6a: checks that need no AI answer (done first, so no AI question is wasted) -------------
    def _pre_checks(self, pairs: list[PairOutcome], held_symbols: set[str] | None, balance: Balance | None) -> None:
        now = timezone.now()
        stopped = entries_stopped()  # /stopentry: the whole bot opens nothing new; open trades stay managed
        if stopped is not None:
            for pair in pairs:
                pair.stop(DecisionOutcome.SKIPPED, f"entries stopped: {stopped}")
            return
        live = list(Trade.objects.filter(status__in=LIVE_STATUSES).values_list("strategy_id", "symbol"))
        live_symbols = {symbol for _, symbol in live} | (held_symbols or set())
        for strategy, group in _by_strategy(pairs).items():
            # The bot trades a strategy on its activator's authority: gone with their permission or switch.
            refusal = strategy_trading_refusal(strategy)
            if refusal:
                for pair in group:
                    pair.stop(DecisionOutcome.SKIPPED, f"not trading: {refusal}")
                continue
            if strategy.is_paused(now):
                until = "until resumed" if strategy.paused_until_resumed else \
                    f"until {strategy.paused_until:%Y-%m-%d %H:%M} UTC"
                for pair in group:
                    pair.stop(DecisionOutcome.SKIPPED, f"paused {until}: {strategy.pause_reason}")
                continue
            if not self.dry_run and balance and check_daily_loss(strategy, now=now, equity=balance.equity):
                for pair in group:
                    pair.stop(DecisionOutcome.SKIPPED, strategy.pause_reason)
                continue
            open_count = sum(1 for strategy_id, _ in live if strategy_id == strategy.pk)
            for pair in group:
                if held_symbols is None:
                    pair.stop(DecisionOutcome.FAILED, "positions unavailable: cannot tell whether the symbol is held")
                elif pair.symbol in live_symbols:
                    pair.stop(DecisionOutcome.SKIPPED, f"{pair.symbol} is already held; no second entry")
                elif open_count >= strategy.max_positions:
                    pair.stop(DecisionOutcome.SKIPPED, f"max positions reached ({open_count}/{strategy.max_positions})")

    # Step 5: AI confirmation, asked concurrently ---------------------------------------------------
    def _confirm_with_ai(self, pairs: list[PairOutcome]) -> None:
        asking = [pair for pair in pairs if pair.strategy.use_ai_confirmation]
        if not asking:
            return
        if self.ai is None:
            for pair in asking:
                pair.stop(DecisionOutcome.SKIPPED, self.ai_unavailable_reason)
            return
        with ThreadPoolExecutor(max_workers=self.max_workers) as pool:
            answers = list(pool.map(in_pool_thread(self._ask_ai), asking))
        for pair, answer in zip(asking, answers, strict=True):
            if isinstance(answer, Exception):
                pair.stop(DecisionOutcome.SKIPPED, f"AI unavailable, not trading on a guess: "
                                                   f"{getattr(answer, 'reason', answer)}")
                continue
            pair.ai_confidence, pair.ai_reasoning = answer.confidence, answer.reasoning
            judged = verdict(answer, side=pair.action, min_confidence=pair.strategy.min_ai_confidence,
                             with_reasoning=True)
            if not judged.confirms:
                pair.stop(DecisionOutcome.SKIPPED, judged.reason)

    def _ask_ai(self, pair: PairOutcome):
        try:
            signal = pair.signal
            return self.ai.decide(strategy=pair.strategy, symbol=pair.symbol, timeframe=pair.strategy.timeframe,
                                  candle_time=signal.candle_time, price=signal.price, indicators=signal.indicators,
                                  recent_candles=pair.frame.tail(AI_RECENT_CANDLES))
        except Exception as error:  # noqa: BLE001 - AIUnavailable or anything unexpected: skip, never guess
            return error

    # Steps 6b-8: slots, sizing, pending rows, orders ------------------------------------------------
    def _enter(self, pairs: list[PairOutcome], balance: Balance) -> None:
        available = balance.available
        # Instrument rules (cached by the exchange) asked for all entries at once: a cold cache costs one round trip,
        # not one per entry while the leases are held. A failure is met again, and reported, in _plan.
        with ThreadPoolExecutor(max_workers=self.max_workers) as pool:
            list(pool.map(in_pool_thread(self._rules_or_error), {pair.symbol for pair in pairs}))
        with ExitStack() as leases:
            ready: list[PairOutcome] = []
            for strategy, group in _by_strategy(pairs).items():
                if not self.dry_run and not leases.enter_context(locks.strategy_lease(strategy.pk,
                                                                                      self.lock_seconds)):
                    for pair in group:
                        pair.stop(DecisionOutcome.SKIPPED, "another cycle is trading this strategy right now")
                    continue
                available = self._plan(strategy, group, balance, available)
                ready += [pair for pair in group if pair.plan is not None and pair.going]
            if self.dry_run:
                for pair in ready:
                    capped = f" (size capped by {pair.plan.capped_by})" if pair.plan.capped_by else ""
                    pair.stop(DecisionOutcome.DRY_RUN, f"would {pair.plan.side} {pair.plan.qty} at ~"
                                                       f"{pair.plan.reference_price}{capped}")
                return
            for pair in ready:
                self._record_pending(pair)
            sending = [pair for pair in ready if pair.trade is not None]
            with ThreadPoolExecutor(max_workers=self.max_workers) as pool:
                results = list(pool.map(in_pool_thread(self._execute), sending))
        for pair, result in zip(sending, results, strict=True):
            outcome = DecisionOutcome.FAILED if result.outcome == "failed" else DecisionOutcome.ENTERED
            capped = f" (size capped by {pair.plan.capped_by})" if pair.plan.capped_by else ""
            pair.stop(outcome, result.detail or f"{result.outcome}: {pair.plan.side} {result.trade.quantity} "
                                               f"@ {result.trade.price}{capped}")

    def _plan(self, strategy: Strategy, group: list[PairOutcome], balance: Balance, available: Decimal) -> Decimal:
        params = RiskParams.from_strategy(strategy)
        open_count = Trade.objects.filter(strategy=strategy, status__in=LIVE_STATUSES).count()
        for pair in group:
            if open_count >= strategy.max_positions:
                pair.stop(DecisionOutcome.SKIPPED, f"max positions reached ({open_count}/{strategy.max_positions})")
                continue
            try:
                rules = self.exchange.get_instrument(pair.symbol)
                pair.plan = plan_entry(action=pair.action, price=pair.signal.price, equity=balance.equity,
                                       available=available, params=params, rules=rules,
                                       max_notional=self.max_notional)
            except RiskRejected as error:
                pair.stop(DecisionOutcome.SKIPPED, f"risk: {error}")
                continue
            except ExchangeError as error:
                pair.stop(DecisionOutcome.FAILED, f"instrument rules unavailable: {error}")
                continue
            available -= pair.plan.notional / params.leverage
            open_count += 1
        return available

    def _rules_or_error(self, symbol: str):
        try:
            return self.exchange.get_instrument(symbol)
        except ExchangeError as error:
            return error

    def _record_pending(self, pair: PairOutcome) -> None:
        """Step 7's first half: the row and its orderLinkId exist, committed, before anything is sent."""
        plan, signal = pair.plan, pair.signal
        link_id = entry_order_link_id(pair.strategy.pk, pair.symbol, signal.candle_time, pair.action)
        reasoning = pair.ai_reasoning or "; ".join(signal.reasons)
        try:
            with transaction.atomic():
                pair.trade = Trade.objects.create(
                    strategy=pair.strategy, symbol=pair.symbol, side=plan.side, quantity=plan.qty,
                    price=plan.reference_price, stop_loss=plan.stop_loss, take_profit=plan.take_profit,
                    leverage=pair.strategy.leverage, order_link_id=link_id, confidence=pair.ai_confidence,
                    reasoning=reasoning, candle_time=signal.candle_time, status=TradeStatus.PENDING)
        except IntegrityError:
            if Trade.objects.filter(order_link_id=link_id).exists():
                pair.stop(DecisionOutcome.SKIPPED, f"this decision was already executed ({link_id})")
            else:
                pair.stop(DecisionOutcome.SKIPPED, f"{pair.symbol} is already held; no second entry")

    def _execute(self, pair: PairOutcome) -> Execution:
        rules = self.exchange.get_instrument(pair.symbol)
        return execute_entry(pair.trade, exchange=self.exchange, params=RiskParams.from_strategy(pair.strategy),
                             rules=rules, sleep=self.sleep)

    # Step 9 and the decision log ------------------------------------------------------------------
    def _record(self, pairs: list[PairOutcome]) -> None:
        """Log every decision and keep the latest one per strategy, symbol and candle (one upsert in all)."""
        rows = []
        for pair in pairs:
            signal = pair.signal
            # A HOLD is the common case (thousands a minute at scale, all kept on the Decision rows): DEBUG.
            level = logging.DEBUG if pair.action == Action.HOLD and pair.outcome == DecisionOutcome.HOLD else \
                logging.INFO
            if logger.isEnabledFor(level):
                logger.log(level, "decision %s -> %s: %s", pair.action, pair.outcome, pair.why, extra={
                    "strategy": pair.strategy.name, "symbol": pair.symbol,
                    "order_link_id": pair.trade.order_link_id if pair.trade else ""})
            rows.append({
                "strategy": pair.strategy.pk, "symbol": pair.symbol, "timeframe": pair.strategy.timeframe,
                "candle_time": signal.candle_time if signal else None, "action": str(pair.action),
                "outcome": str(pair.outcome), "reasons": list(signal.reasons) if signal else [],
                "detail": "; ".join(text for text in (pair.note, pair.detail) if text)[:2000],
                "price": signal.price if signal else None, "ai_confidence": pair.ai_confidence,
                "trade": pair.trade.pk if pair.trade else None})
        write_decisions(rows)

    def _announce_market(self, frames: dict) -> None:
        latest = {}
        for (symbol, _), frame in frames.items():
            if isinstance(frame, pd.DataFrame) and not frame.empty:
                close_time = frame.index[-1]
                if symbol not in latest or close_time > latest[symbol][1]:
                    latest[symbol] = (Decimal(repr(float(frame["close"].iloc[-1]))), close_time)
        announce.prices({symbol: (price, at.to_pydatetime()) for symbol, (price, at) in latest.items()})

    def _announce_balance(self, report: CycleReport) -> None:
        balance = report.balance
        if report.orders:
            try:
                balance = self.exchange.get_balance()
                report.balance = balance
            except ExchangeError:
                pass
        announce.balance_changed(balance)


def informative_intervals(strategy: Strategy) -> dict[str, str]:
    """The higher timeframes the strategy's class reads (as the class spells them, e.g. "1h") -> Bybit intervals."""
    cls = catalogue.strategy_class(strategy.type)
    return {timeframe: bybit_interval(timeframe) for timeframe in (cls.informative_timeframes if cls else ())}


def frame_intervals(strategy: Strategy) -> set[str]:
    """The intervals whose klines a strategy reads: its timeframe, its confirmation timeframe, its class's
    informative timeframes."""
    return {interval for interval in (strategy.timeframe, strategy.confirm_timeframe,
                                      *informative_intervals(strategy).values()) if interval}


def missing_class(key: str) -> str:
    """Why a strategy of class ``key`` cannot be evaluated: the load problems that name it, else all of them."""
    problems = catalogue.catalogue().problems
    squashed = key.replace("_", "").lower()
    naming = [problem for problem in problems
              if squashed in str(problem).replace("_", "").lower()]
    shown = naming or list(problems)
    why = "; ".join(map(str, shown)) if shown else "no built-in and no file in STRATEGY_DIRS defines it"
    return f"strategy class {key!r} is not loaded, holding: {why}"


def close_timed_out(exchange: Exchange, market_now: datetime, strategies: list[Strategy], *,
                    sleep: Callable[[float], None] = time.sleep) -> list[str]:
    """Close the open trades of these strategies that have been held for their ``exit_after_candles`` (counted in
    candles of the strategy's timeframe from the one the entry filled in: the one after the signal candle, as in
    the backtest). Returns what went wrong, one line a trade; a trade that could not be closed is tried again next
    cycle."""
    errors = []
    trades = Trade.objects.open().filter(strategy__in=[s for s in strategies if s.exit_after_candles],
                                         candle_time__isnull=False).select_related("strategy")
    now_minute = int(market_now.timestamp()) // 60
    for trade in trades:
        strategy = trade.strategy
        minutes = INTERVAL_MINUTES[strategy.timeframe]
        opened = exits.candle_index(int(trade.candle_time.timestamp()) // 60, minutes) + 1
        if not exits.time_exit_due(opened, exits.candle_index(now_minute, minutes), strategy.exit_after_candles):
            continue
        try:
            execute_exit(trade, exchange=exchange, reason=f"time exit after {strategy.exit_after_candles} candles",
                         sleep=sleep)
        except ExchangeError as error:
            errors.append(f"time exit of trade {trade.pk} ({trade.symbol}): {error}")
    return errors


def _by_strategy(pairs: list[PairOutcome]) -> dict[Strategy, list[PairOutcome]]:
    grouped: dict[Strategy, list[PairOutcome]] = defaultdict(list)
    for pair in pairs:
        grouped[pair.strategy].append(pair)
    return grouped
