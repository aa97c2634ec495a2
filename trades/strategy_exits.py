"""The cycle's step for the trades a strategy holds: its exit signal and its ``custom_exit`` close them, its
``custom_stoploss`` moves their stop, by the one rule the backtest engine also runs
(``strategies.sdk.trade_exits.advise``).

A candle is asked about a trade once it closed after the trade's signal candle, at the first cycle after it
closed (the backtest acts at that same minute's open). The cycle asks again each minute until the next candle
closes; the answer is the same, and a stop only moves nearer the price, so asking twice changes nothing.

Closing goes through ``trades.execution.execute_exit`` (its derived orderLinkId, lost answers looked up). A new
stop is set on the exchange first and recorded on the trade only once the exchange took it, so the database never
says a stop the exchange does not have; a stop already beyond the price (the exchange would refuse it) closes the
trade at market instead, as the backtest fills such a stop at the open.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from decimal import Decimal

from exchange.base import Exchange
from market.errors import ExchangeError
from market.intervals import interval_delta
from strategies.sdk.kernel import StrategyError
from strategies.sdk.trade_exits import HeldTrade, advise, crossed, has_callbacks
from trades.execution import execute_exit, move_protection
from trades.models import DecisionOutcome, Trade, TradeStatus

logger = logging.getLogger(__name__)


def manage_open_trades(pairs, *, exchange: Exchange, dry_run: bool = False,
                       sleep: Callable[[float], None] = time.sleep) -> list[str]:
    """Ask each evaluated pair's strategy about the open trade it holds on the pair's symbol, and act on the
    answer. A strategy whose hook raises holds that pair (the pair fails with the message); its trade keeps the
    protection it has. Returns what went wrong on the exchange, one line a trade."""
    asking = {(pair.strategy.pk, pair.symbol): pair for pair in pairs
              if pair.signal is not None and pair.signal.strategy is not None}
    if not asking:
        return []
    trades = Trade.objects.open().filter(strategy_id__in={key[0] for key in asking},
                                         symbol__in={key[1] for key in asking}, candle_time__isnull=False)
    errors = []
    for trade in trades.select_related("strategy"):
        pair = asking.get((trade.strategy_id, trade.symbol))
        if pair is None or pair.signal.candle_time <= trade.candle_time:
            continue  # not this strategy's pair, or no candle has closed since the one it entered on
        try:
            note = _act(trade, pair.signal, exchange=exchange, dry_run=dry_run, sleep=sleep)
        except StrategyError as error:
            pair.stop(DecisionOutcome.FAILED, f"strategy error: {error}")
            logger.warning("strategy error on an open trade", extra={**trade.log_extra, "error": str(error)})
            continue
        except ExchangeError as error:
            errors.append(f"trade {trade.pk} ({trade.symbol}): {error}")
            note = f"trade {trade.pk}: the exchange refused: {error}"
        pair.note = note
    return errors


def _act(trade: Trade, signal, *, exchange: Exchange, dry_run: bool, sleep) -> str:
    """Ask, then act; returns what was done for the decision log ("" for nothing)."""
    strategy = trade.strategy
    callbacks = has_callbacks(type(signal.strategy))
    rules = exchange.get_instrument(trade.symbol) if callbacks else None
    long_ = trade.side == "Buy"
    held = HeldTrade(pair=trade.symbol, side=trade.side, open_rate=float(trade.price), open_time=trade.executed_at,
                     amount=float(trade.open_quantity), id=trade.pk,
                     stop_loss=None if trade.stop_loss is None else float(trade.stop_loss))
    advice = advise(signal.strategy, held, candle_close=signal.candle_time + interval_delta(strategy.timeframe),
                    rate=float(signal.price), exit_signal=signal.exit_long if long_ else signal.exit_short,
                    exit_tag=signal.exit_tag, rules=rules, callbacks=callbacks)
    if advice.closes:
        reason = f"{advice.kind.replace('_', ' ')}: {advice.reason}"
        if dry_run:
            return f"would close trade {trade.pk} ({reason})"
        result = execute_exit(trade, exchange=exchange, reason=reason, sleep=sleep)
        return f"closed trade {trade.pk} ({reason})" if result.outcome == TradeStatus.CLOSED else \
            f"closing trade {trade.pk} ({reason}): {result.detail}"
    if advice.stop is None or dry_run:
        return "" if advice.stop is None else f"would move trade {trade.pk}'s stop to {advice.stop}"
    return _move_stop(trade, advice.stop, exchange=exchange, sleep=sleep)


def _move_stop(trade: Trade, stop: Decimal, *, exchange: Exchange, sleep) -> str:
    price = exchange.get_ticker(trade.symbol).last_price
    if crossed(trade.side, stop, price):
        reason = f"stop loss: custom stop {stop} is already beyond the price {price}"
        result = execute_exit(trade, exchange=exchange, reason=reason, sleep=sleep)
        return f"closed trade {trade.pk} ({reason})" if result.outcome == TradeStatus.CLOSED else result.detail
    before = trade.stop_loss
    move_protection(exchange, trade.symbol, trade, why=f"custom stop-loss moved from {before}", stop_loss=stop)
    return f"moved trade {trade.pk}'s stop from {before} to {stop} (custom_stoploss)"


