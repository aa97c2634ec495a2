"""Steps 7 and 8 of the cycle for one entry: send the order, confirm the fill, protect the position.

The Trade row (status ``pending``, with its orderLinkId) is already committed when this runs, so
whatever happens here, a crash included, the reconciler can settle it by that id. Nothing here ever
sends the same entry twice.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from django.utils import timezone

from exchange.base import Exchange
from market.errors import ExchangeError, OrderStateUnknownError, TemporaryError
from market.exits import ExitPlan
from market.order_ids import exit_order_link_id
from market.types import InstrumentRules, Order, OrderRequest, OrderStatus, OrderType
from trades import announce
from trades.models import Trade, TradeStatus
from trades.risk import RiskParams, exit_plan

logger = logging.getLogger(__name__)

FILL_POLL_DELAYS = (0.2, 0.5, 1.0, 2.0)
EXIT_ATTEMPTS = 2  # a close that never reached the exchange is sent once more (reduce-only: safe)


@dataclass(frozen=True)
class Execution:
    trade: Trade
    outcome: str  # "open", "pending", "failed", "closed"
    detail: str = ""
    order: Order | None = None  # the exchange's last word on the order, when there was one


def execute_entry(trade: Trade, *, exchange: Exchange, params: RiskParams, rules: InstrumentRules,
                  sleep: Callable[[float], None] = time.sleep) -> Execution:
    log = trade.log_extra
    try:
        # Always, not only above 1x: the account may hold another leverage for this symbol from earlier.
        exchange.set_leverage(trade.symbol, params.leverage)
    except ExchangeError as error:
        return fail_entry(trade, f"not sent: setting leverage {params.leverage}x failed: {error}")
    logger.info("sending entry order", extra={**log, "side": trade.side, "qty": str(trade.quantity)})
    try:
        order = exchange.place_order(OrderRequest(symbol=trade.symbol, side=trade.side, qty=trade.quantity,
                                                  order_link_id=trade.order_link_id, order_type=OrderType.MARKET))
    except OrderStateUnknownError as error:
        trade.transition([TradeStatus.PENDING], status_reason=f"answer lost, reconciling by orderLinkId: {error}")
        logger.warning("entry order state unknown; the reconciler will settle it", extra=log)
        return Execution(trade, "pending", str(error))
    except ExchangeError as error:
        return fail_entry(trade, f"order refused: {error}")
    order = await_fill(exchange, trade.symbol, trade.order_link_id, order, sleep=sleep)
    if order is not None and order.status == OrderStatus.PARTIALLY_FILLED and order.order_type == OrderType.MARKET:
        order = cancel_rest(exchange, order, sleep=sleep)
    return settle_entry(trade, order, exchange=exchange, params=params, rules=rules, sleep=sleep)


def settle_entry(trade: Trade, order: Order | None, *, exchange: Exchange, params: RiskParams | None = None,
                 rules: InstrumentRules | None = None, sleep: Callable[[float], None] = time.sleep) -> Execution:
    """Apply what the exchange says of a trade's entry order, whoever read it (the cycle, a manual order, the
    reconciler). Filled, whole or in part: the trade opens for the filled quantity and is protected. Ended with
    nothing filled: the trade fails with the exchange's reason. Still working: the trade stays pending.

    Safe to apply twice: each change is a conditional update, and a fill that grew since (a later answer or poll)
    updates the quantity of the same open trade once."""
    if order is None or (not order.status.is_final and order.status != OrderStatus.FILLED):
        status = order.status if order is not None else "not visible yet"
        detail = f"entry order {status}"
        if order is not None and order.filled_qty:
            detail += f" ({order.filled_qty} of {order.qty} filled)"
        trade.transition([TradeStatus.PENDING], order_id=order.order_id if order else trade.order_id,
                         status_reason=f"{detail}; waiting for the fill")
        return Execution(trade, "pending", detail, order=order)
    if not order.filled_qty and order.status != OrderStatus.FILLED:
        return fail_entry(trade, f"entry order ended {order.status} with nothing filled: "
                                 f"{order.reject_reason or 'no reason given'}", order=order)
    if trade.status == TradeStatus.OPEN:
        return _grow_fill(trade, order)
    return confirm_open(trade, order, exchange=exchange, params=params, rules=rules, sleep=sleep)


def partial_fill_note(order: Order) -> str:
    """What the trade's status says of an entry that filled only in part ('' when it filled whole)."""
    if order.status == OrderStatus.FILLED or not order.filled_qty or order.filled_qty >= order.qty:
        return ""
    why = f"{order.status}: {order.reject_reason}" if order.reject_reason else order.status
    return (f"partly filled: {order.filled_qty} of {order.qty} {order.symbol}; the rest "
            f"({order.qty - order.filled_qty}) was cancelled ({why})")


def cancel_rest(exchange: Exchange, order: Order, *, sleep: Callable[[float], None] = time.sleep) -> Order:
    """A market entry left partly filled: cancel what is left, so the trade is exactly what filled."""
    log = {"symbol": order.symbol, "order_link_id": order.order_link_id}
    try:
        exchange.cancel_order(order.symbol, order_link_id=order.order_link_id)
        logger.warning("entry partly filled; the rest was cancelled", extra={**log, "filled": str(order.filled_qty)})
    except ExchangeError as error:  # it may have ended meanwhile: read it again below either way
        logger.warning("cancelling the rest of a partly filled entry failed: %s", error, extra=log)
    return await_fill(exchange, order.symbol, order.order_link_id, None, sleep=sleep) or order


def confirm_open(trade: Trade, order: Order, *, exchange: Exchange, params: RiskParams | None,
                 rules: InstrumentRules | None, sleep: Callable[[float], None] = time.sleep) -> Execution:
    """Record the fill, then set stop-loss and take-profit: a strategy's from the real fill price, a manual
    order's as it asked (the exchange attached them to the order; setting them again proves they hold). A strategy's
    extra exits go with them: the trailing stop in the same call, then the partial take-profits."""
    fill_price = order.avg_price or trade.price
    note = partial_fill_note(order)
    if not trade.mark_open(order_id=order.order_id, price=fill_price, quantity=order.filled_qty or trade.quantity,
                           fees=order.fee, executed_at=order.updated_at or timezone.now(), reason=note):
        trade.refresh_from_db()
        return Execution(trade, trade.status, "already settled by another process", order=order)
    logger.info("entry filled", extra={**trade.log_extra, "price": str(fill_price), "fee": str(order.fee),
                                       "qty": str(trade.quantity)})
    plan = None
    if params is not None:
        plan = exit_plan(order.side, fill_price, trade.quantity, params, rules or exchange.get_instrument(trade.symbol))
        stop, target = plan.stop, plan.take_profit
    elif trade.stop_loss or trade.take_profit:
        rules = rules or exchange.get_instrument(trade.symbol)
        stop, target = (rules.round_price(level) if level else None for level in (trade.stop_loss, trade.take_profit))
    else:
        stop = target = None  # a manual order without protection: the operator's choice
    error = protect(exchange, trade.symbol, stop, target, plan) if stop or target else None
    if error is None:
        if stop or target:
            trade.transition([TradeStatus.OPEN], stop_loss=stop_now(exchange, trade.symbol, stop, plan),
                             take_profit=target)
        if plan is not None and plan.targets:
            _add_targets(exchange, trade, plan)
        announce.trade_opened(trade)
        return Execution(trade, "open", note, order=order)
    logger.error("stop-loss could not be set; closing the position at once",
                 extra={**trade.log_extra, "error": str(error)})
    announce.trade_opened(trade)
    return close_unprotected(trade, exchange=exchange, error=error, sleep=sleep)


def _grow_fill(trade: Trade, order: Order) -> Execution:
    """An open trade whose entry order turned out to have filled more than recorded: the quantity follows the
    exchange (once: the update only applies while the recorded quantity is smaller)."""
    if order.filled_qty > trade.quantity and Trade.objects.open().filter(
            pk=trade.pk, quantity__lt=order.filled_qty).update(quantity=order.filled_qty):
        logger.warning("entry fill grew", extra={**trade.log_extra, "from": str(trade.quantity),
                                                 "to": str(order.filled_qty)})
        trade.refresh_from_db()
        return Execution(trade, "open", f"fill grew to {order.filled_qty}", order=order)
    return Execution(trade, "open", "already open", order=order)


def close_unprotected(trade: Trade, *, exchange: Exchange, error: ExchangeError,
                      sleep: Callable[[float], None] = time.sleep) -> Execution:
    """Close a position whose stop-loss could not be set. If the close cannot be sent either (the exchange
    is still failing), the trade stays open: the reconciler finds its position without a stop-loss and
    tries again, instead of this error ending the cycle with the position left naked."""
    try:
        closed = execute_exit(trade, exchange=exchange, reason=f"closed at once: stop-loss could not be set ({error})",
                              sleep=sleep)
    except ExchangeError as close_error:
        logger.error("the unprotected position could not be closed; the reconciler will try again",
                     extra={**trade.log_extra, "error": str(close_error)})
        return Execution(trade, "open", f"stop-loss could not be set ({error}) nor the position closed "
                                        f"({close_error}); the reconciler will try again")
    return Execution(trade, closed.outcome, f"stop-loss could not be set: {error}")


def protect(exchange: Exchange, symbol: str, stop: Decimal, target: Decimal | None,
            plan: ExitPlan | None = None) -> ExchangeError | None:
    """Set SL/TP (and the plan's trailing stop); returns the error if it could not be set. (The exchange layer
    already retried it: set_trading_stop is idempotent, and a second retry loop here would only multiply the wait.)"""
    trailing = {} if plan is None or plan.trailing is None else {
        "trailing_stop": plan.trailing.distance, "active_price": plan.trailing.activation}
    try:
        exchange.set_trading_stop(symbol, stop_loss=stop, take_profit=target, **trailing)
        return None
    except ExchangeError as error:
        return error


def move_protection(exchange: Exchange, symbol: str, trade: Trade | None, *, why: str,
                    stop_loss: Decimal | None = None, take_profit: Decimal | None = None) -> bool:
    """Set the position's stop-loss / take-profit on the exchange (0 cancels one, None leaves it), then the open
    ``trade`` says the same: the exchange first, so the row only ever says what the exchange has. Guards are the
    caller's (a person's permissions, a strategy's hook). True when the trade's row changed."""
    exchange.set_trading_stop(symbol, stop_loss=stop_loss, take_profit=take_profit)
    changes = {name: value or None for name, value in (("stop_loss", stop_loss), ("take_profit", take_profit))
               if value is not None}
    if trade is None or not trade.transition([TradeStatus.OPEN], **changes):
        return False
    logger.info(why, extra={**trade.log_extra, **{name: str(value) for name, value in changes.items()}})
    return True


def stop_now(exchange: Exchange, symbol: str, stop: Decimal, plan: ExitPlan | None) -> Decimal:
    """Where the stop stands once set: a trailing stop may have moved it at once (the exchange trails from the
    last price), so the position's word is recorded, not the plan's."""
    if plan is None or plan.trailing is None:
        return stop
    try:
        positions = exchange.get_positions(symbol)
    except ExchangeError:
        return stop  # the reconciler follows the exchange's stop on its next pass
    return next((position.stop_loss for position in positions if position.stop_loss), stop)


def _add_targets(exchange: Exchange, trade: Trade, plan: ExitPlan) -> None:
    """The partial take-profits. One refused leaves the position protected by its stop: logged, not fatal."""
    for target in plan.targets:
        try:
            exchange.add_partial_take_profit(trade.symbol, price=target.price, qty=target.qty)
        except ExchangeError as error:
            logger.warning("a partial take-profit could not be set", extra={
                **trade.log_extra, "price": str(target.price), "qty": str(target.qty), "error": str(error)})


def await_fill(exchange: Exchange, symbol: str, order_link_id: str, order: Order | None, *,
               sleep: Callable[[float], None] = time.sleep) -> Order | None:
    """Market orders fill at once, but Bybit confirms asynchronously: poll the order by its id a few times."""
    for delay in FILL_POLL_DELAYS:
        if order is not None and (order.status == OrderStatus.FILLED or order.status.is_final):
            return order
        sleep(delay)
        try:
            order = exchange.find_order(symbol, order_link_id) or order
        except TemporaryError:
            continue
    return order


class NotClosedError(ExchangeError):
    """A close that the exchange did not take: the position is still open, and the person must hear so."""

    http_status = 503


def execute_exit(trade: Trade, *, exchange: Exchange, reason: str,
                 sleep: Callable[[float], None] = time.sleep) -> Execution:
    """Close the trade's position with a reduce-only market order whose id is derived from the trade.

    A second close of the same trade reuses the id, so the exchange refuses it instead of closing twice.
    A close whose answer was lost and that lookups by its id did not find never reached the exchange: being
    reduce-only it cannot open a position, so it is sent once more under the next derived id; if that is
    lost too, ``NotClosedError`` says plainly that the position is still open.
    """
    for attempt in range(EXIT_ATTEMPTS):
        link_id = exit_order_link_id(trade.pk, attempt)
        trade.transition([TradeStatus.OPEN], exit_order_link_id=link_id)  # recorded before it is sent
        logger.info("closing position", extra={**trade.log_extra, "exit_order_link_id": link_id, "reason": reason})
        try:
            order = exchange.close_position(trade.symbol, link_id)
            break
        except OrderStateUnknownError as error:
            lost = error
            logger.warning("the close never reached the exchange", extra={**trade.log_extra,
                                                                           "exit_order_link_id": link_id})
    else:
        raise NotClosedError(f"Trade {trade.pk} was NOT closed: the exchange did not take the close order "
                             f"({EXIT_ATTEMPTS} tries, none found by its id: {lost}). The position is still open "
                             f"with its stop-loss; try again.")
    order = await_fill(exchange, trade.symbol, link_id, order, sleep=sleep) if order else None
    if order is None:
        # No position on the exchange: it was already closed (stop-loss, take-profit, by hand); the
        # reconciler records the exit from the exchange's closed-PnL history.
        return Execution(trade, "open", "no position on the exchange; the reconciler records how it closed")
    if order.status != OrderStatus.FILLED:
        return Execution(trade, "open", f"close order {order.status}", order=order)
    record_exit(trade, exit_price=order.avg_price, exit_fee=order.fee, closed_at=order.updated_at or timezone.now(),
                reason=reason)
    return Execution(trade, trade.status, reason, order=order)


def record_exit(trade: Trade, *, exit_price: Decimal, exit_fee: Decimal, closed_at, reason: str,
                realized_pnl: Decimal | None = None) -> bool:
    """Close the trade row (once) and announce it: ``exit_fee`` is the last close's; the fees and PnL include the
    parts partial take-profits closed before. PnL is net of every fee unless the exchange gave it."""
    fees = (trade.fees or Decimal("0")) + trade.partial_fees + exit_fee
    if realized_pnl is None:
        direction = 1 if trade.side == "Buy" else -1
        realized_pnl = direction * (exit_price - trade.price) * trade.open_quantity + trade.partial_gross - fees
    if not trade.mark_closed(exit_price=exit_price, realized_pnl=realized_pnl, fees=fees, closed_at=closed_at,
                             reason=reason):
        return False
    logger.info("trade closed", extra={**trade.log_extra, "exit_price": str(exit_price), "pnl": str(realized_pnl),
                                       "reason": reason})
    announce.trade_closed(trade)
    return True


def fail_entry(trade: Trade, reason: str, *, order: Order | None = None) -> Execution:
    """The entry produced no position: the trade fails (once) and says why, wherever the answer came from."""
    if trade.mark_failed(reason):
        logger.warning("entry failed", extra={**trade.log_extra, "reason": reason})
        announce.trade_failed(trade)
    return Execution(trade, "failed", reason, order=order)

