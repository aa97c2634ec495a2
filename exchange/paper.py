"""The paper exchange: Bybit's behaviour simulated on real (or replayed) prices, with its state in the database.

Fills follow ``market.fills`` (the backtester's model too), and so do the extra exits: a trailing stop and partial
take-profits are walked candle by candle through ``market.exits.candle_step``, the backtest engine's own rule. As
on Bybit, they are conditional orders of the position: ``Untriggered`` rows, cancelled when the position closes
(a trailing stop's row keeps its distance in ``price``, its activation price in ``take_profit`` (empty once it
trails) and the stop it was set over in ``stop_loss``; the position's ``stop_loss`` is where the stop stands).

Every change happens inside one transaction with the account row locked (``select_for_update``; on SQLite the
IMMEDIATE transaction takes the write lock up front), so worker processes calling it at once queue instead of
double-spending. Before each call, pending work is settled: resting limit orders and stop-loss/take-profit are
checked against the 1-minute candles that closed since the last check, then against the current price.

Equity is always cash + unrealized PnL. Fees are taken from cash once, when a fill happens.

Perpetual realism, by the backtest's own rules: funding (``market.funding``) is settled at every funding time an
open position is held at (opened before it, still open at it), on its size then, at the close of the minute
ending at that time, with the downloaded rate (``manage.py download_candles --funding``) or the assumed one; one
``PaperFunding`` row each, the amount in cash. Isolated-margin liquidation (``market.liquidation``): a candle that
reaches the position's liquidation price before its stop closes it there, a fill with trigger ``liquidation``.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, Q

from exchange.base import Exchange, Subscription
from exchange.downloader import funding_path, read_funding
from exchange.market_data import MarketData
from exchange.models import PaperAccount, PaperClosedPnl, PaperFill, PaperFunding, PaperOrder, PaperPosition
from exchange.replay import MINUTE, floor_minute
from exchange.streams import polling_ticker_stream
from market import exits, fills, funding, liquidation
from market.errors import InvalidOrderError, OrderNotFoundError, OrderRejectedError
from market.instruments import check_symbol, conform
from market.types import (
    Balance,
    Candle,
    ClosedPnl,
    InstrumentRules,
    Order,
    OrderRequest,
    OrderStatus,
    OrderType,
    Position,
    Side,
    Ticker,
)

logger = logging.getLogger(__name__)

ZERO = Decimal("0")
INSUFFICIENT_BALANCE = 110007
REDUCE_ONLY_NOTHING_TO_REDUCE = 110017
PARAMS_ERROR = 10001
UNTRIGGERED, DEACTIVATED, TRIGGERED = OrderStatus.UNTRIGGERED, OrderStatus.DEACTIVATED, OrderStatus.TRIGGERED
TRAILING_PREFIX, PARTIAL_PREFIX = "ts-", "pt-"


class PaperExchange(Exchange):
    name = "paper"

    def __init__(self, market_data: MarketData, *, account: str = "default",
                 initial_balance: Decimal = Decimal("10000"), fee_rate: Decimal = Decimal("0.00055"),
                 slippage_bps: Decimal = Decimal("2"), poll_interval: float = 1.0,
                 funding_rates: Callable[[str], dict[int, Decimal]] | None = None):
        self.market_data = market_data
        self.account_name = account
        self.initial_balance = Decimal(initial_balance)
        self.fee_rate = Decimal(fee_rate)
        self.slippage_bps = Decimal(slippage_bps)
        self.poll_interval = poll_interval
        self.funding_rates = funding_rates or downloaded_funding_rates
        self._rate_cache: dict[str, dict[int, Decimal]] = {}

    # Account
    def get_balance(self) -> Balance:
        account = self._settled_account()
        rows = list(account.positions.all())
        unrealized = sum((self._unrealized(row) for row in rows if row.size > 0), ZERO)
        used = self._used_margin(account, positions=rows)
        equity = account.cash + unrealized
        return Balance(coin="USDT", equity=equity, wallet_balance=account.cash, available=max(ZERO, equity - used),
                       unrealized_pnl=unrealized, used_margin=used)

    def get_positions(self, symbol: str | None = None) -> list[Position]:
        account = self._settled_account()
        rows = account.positions.filter(size__gt=0).order_by("symbol")
        if symbol:
            rows = rows.filter(symbol=symbol)
        return [self._to_position(row) for row in rows]

    # Orders
    def get_open_orders(self, symbol: str | None = None) -> list[Order]:
        rows = self._settled_account().orders.filter(status=OrderStatus.NEW)
        return [_to_order(row) for row in (rows.filter(symbol=symbol) if symbol else rows)]

    def get_order_history(self, symbol: str | None = None, limit: int = 50) -> list[Order]:
        rows = self._settled_account().orders.exclude(status__in=[UNTRIGGERED, DEACTIVATED, TRIGGERED])
        return [_to_order(row) for row in (rows.filter(symbol=symbol) if symbol else rows)[:limit]]

    def find_order(self, symbol: str, order_link_id: str) -> Order | None:
        row = self._settled_account().orders.filter(symbol=symbol, order_link_id=order_link_id).first()
        return _to_order(row) if row else None

    def place_order(self, request: OrderRequest) -> Order:
        check_symbol(request.symbol)
        rules = self.market_data.instrument(request.symbol)
        price = self.market_data.ticker(request.symbol).last_price
        request = conform(request, rules, price)
        log = {"symbol": request.symbol, "order_link_id": request.order_link_id}
        try:
            with transaction.atomic():
                account = self._locked_account()
                existing = account.orders.filter(order_link_id=request.order_link_id).first()
                if existing:
                    # Bybit refuses the duplicate (110072); the caller then gets the order placed earlier.
                    logger.info("orderLinkId already used: returning the order placed earlier", extra=log)
                    return _to_order(existing)
                self._settle(account)
                order = self._accept(account, request, rules, price)
        except IntegrityError:  # the same orderLinkId committed by another process a moment ago
            return self.find_order(request.symbol, request.order_link_id)
        logger.info("paper order %s: %s %s %s at %s", order.status, order.side, order.qty, order.symbol,
                    order.avg_price or order.price, extra=log)
        return _to_order(order)

    def cancel_order(self, symbol: str, *, order_id: str | None = None, order_link_id: str | None = None) -> None:
        if not (order_id or order_link_id):
            raise InvalidOrderError("cancel_order needs an order_id or an order_link_id")
        with transaction.atomic():
            account = self._locked_account()
            self._settle(account)
            match = Q(order_id=order_id) if order_id else Q(order_link_id=order_link_id)
            order = account.orders.filter(match, symbol=symbol, status=OrderStatus.NEW).first()
            if order is None:
                raise OrderNotFoundError("order not exists or too late to cancel", ret_code=110001)
            self._close_order(order, OrderStatus.CANCELLED)
        logger.info("paper order cancelled", extra={"symbol": symbol, "order_link_id": order.order_link_id})

    def cancel_all_orders(self, symbol: str | None = None) -> int:
        with transaction.atomic():
            account = self._locked_account()
            self._settle(account)
            orders = account.orders.filter(status=OrderStatus.NEW)
            orders = list(orders.filter(symbol=symbol) if symbol else orders)
            for order in orders:
                self._close_order(order, OrderStatus.CANCELLED)
        return len(orders)

    # Positions
    def set_leverage(self, symbol: str, leverage: Decimal) -> None:
        rules = self.market_data.instrument(check_symbol(symbol))
        leverage = Decimal(leverage)
        if not 1 <= leverage <= rules.max_leverage:
            raise InvalidOrderError(f"{symbol}: leverage must be between 1 and {rules.max_leverage}, got {leverage}")
        with transaction.atomic():
            account = self._locked_account()
            position = self._position_row(account, symbol)
            position.leverage = leverage
            position.save(update_fields=["leverage", "updated_at"])

    def set_trading_stop(self, symbol: str, *, stop_loss: Decimal | None = None, take_profit: Decimal | None = None,
                         trailing_stop: Decimal | None = None, active_price: Decimal | None = None) -> None:
        if stop_loss is None and take_profit is None and trailing_stop is None:
            raise InvalidOrderError("set a stop_loss, a take_profit, a trailing_stop or more (0 cancels one)")
        if trailing_stop is not None and trailing_stop < 0:
            raise InvalidOrderError(f"trailing_stop is a distance in price, 0 or more, got {trailing_stop}")
        rules = self.market_data.instrument(check_symbol(symbol))
        price = self.market_data.ticker(symbol).last_price
        with transaction.atomic():
            account = self._locked_account()
            self._settle(account)
            position = self._position_row(account, symbol)
            if not position.size:
                raise OrderRejectedError("can not set tp/sl/ts for zero position", ret_code=PARAMS_ERROR)
            long = position.side == Side.BUY
            if stop_loss is not None:
                stop = rules.round_price(stop_loss) if stop_loss else None
                if stop and (stop >= price if long else stop <= price):
                    raise OrderRejectedError(
                        f"StopLoss:{stop} set for {position.side} position should be "
                        f"{'lower' if long else 'higher'} than the last price {price}", ret_code=PARAMS_ERROR)
                position.stop_loss = stop
            if take_profit is not None:
                take = rules.round_price(take_profit) if take_profit else None
                if take and (take <= price if long else take >= price):
                    raise OrderRejectedError(
                        f"TakeProfit:{take} set for {position.side} position should be "
                        f"{'higher' if long else 'lower'} than the last price {price}", ret_code=PARAMS_ERROR)
                position.take_profit = take
            if trailing_stop is not None:
                self._set_trailing(account, position, rules, trailing_stop, active_price, price)
            position.checked_until = floor_minute(self.market_data.now())
            position.save(update_fields=["stop_loss", "take_profit", "checked_until", "updated_at"])

    def _set_trailing(self, account: PaperAccount, position: PaperPosition, rules: InstrumentRules,
                      distance: Decimal, active_price: Decimal | None, price: Decimal) -> None:
        """Replace the position's trailing stop (0: remove it) and arm it at the current ``price``, as Bybit does."""
        self._conditional(account, position.symbol, TRAILING_PREFIX).update(status=DEACTIVATED)
        if not distance:
            return
        distance = max(rules.tick_size, rules.round_price(distance))
        activation = rules.round_price(active_price) if active_price else None
        PaperOrder.objects.create(
            account=account, order_id=str(uuid.uuid4()), order_link_id=f"{TRAILING_PREFIX}{uuid.uuid4().hex}"[:36],
            symbol=position.symbol, side=Side(position.side).opposite, order_type=OrderType.MARKET, qty=position.size,
            price=distance, take_profit=activation, stop_loss=position.stop_loss, status=UNTRIGGERED,
            reduce_only=True, placed_at=self.market_data.now())
        plan = exits.arm(exits.ExitPlan(position.side, stop=position.stop_loss,
                                        trailing=exits.Trailing(distance, activation)), price)
        position.stop_loss = plan.stop
        self._conditional(account, position.symbol, TRAILING_PREFIX).update(take_profit=plan.trailing.activation)

    def add_partial_take_profit(self, symbol: str, *, price: Decimal, qty: Decimal) -> None:
        rules = self.market_data.instrument(check_symbol(symbol))
        last = self.market_data.ticker(symbol).last_price
        price, qty = rules.round_price(price), rules.round_qty(qty)
        with transaction.atomic():
            account = self._locked_account()
            self._settle(account)
            position = self._position_row(account, symbol)
            if not position.size:
                raise OrderRejectedError("can not set tp/sl/ts for zero position", ret_code=PARAMS_ERROR)
            long = position.side == Side.BUY
            if price <= last if long else price >= last:
                raise OrderRejectedError(
                    f"TakeProfit:{price} set for {position.side} position should be "
                    f"{'higher' if long else 'lower'} than the last price {last}", ret_code=PARAMS_ERROR)
            if not rules.min_qty <= qty <= position.size:
                raise OrderRejectedError(f"tpSize {qty} must be at least {rules.min_qty} and at most the position's "
                                         f"{position.size}", ret_code=PARAMS_ERROR)
            PaperOrder.objects.create(
                account=account, order_id=str(uuid.uuid4()), order_link_id=f"{PARTIAL_PREFIX}{uuid.uuid4().hex}"[:36],
                symbol=symbol, side=Side(position.side).opposite, order_type=OrderType.MARKET, qty=qty, price=price,
                status=UNTRIGGERED, reduce_only=True, placed_at=self.market_data.now())

    @staticmethod
    def _conditional(account: PaperAccount, symbol: str, prefix: str | None = None):
        rows = account.orders.filter(symbol=symbol, status=UNTRIGGERED)
        return rows.filter(order_link_id__startswith=prefix) if prefix else rows

    def close_position(self, symbol: str, order_link_id: str) -> Order | None:
        positions = self.get_positions(symbol)
        if not positions:
            return None
        position = positions[0]
        return self.place_order(OrderRequest(symbol=symbol, side=position.side.opposite, qty=position.size,
                                             order_link_id=order_link_id, reduce_only=True))

    def get_closed_pnl(self, symbol: str | None = None, since: datetime | None = None,
                       limit: int = 50) -> list[ClosedPnl]:
        rows = self._settled_account().closed_pnls.select_related("order")
        if symbol:
            rows = rows.filter(symbol=symbol)
        if since:
            rows = rows.filter(closed_at__gte=since)
        return [ClosedPnl(symbol=row.symbol, side=Side(row.side), qty=row.qty, entry_price=row.entry_price,
                          exit_price=row.exit_price, realized_pnl=row.realized_pnl, order_id=row.order.order_id,
                          closed_at=row.closed_at) for row in rows[:limit]]

    # Market data
    def get_klines(self, symbol: str, interval: str, limit: int = 200) -> list[Candle]:
        return self.market_data.klines(check_symbol(symbol), interval, limit)

    def get_ticker(self, symbol: str) -> Ticker:
        return self.market_data.ticker(check_symbol(symbol))

    def get_instrument(self, symbol: str) -> InstrumentRules:
        return self.market_data.instrument(check_symbol(symbol))

    def subscribe(self, symbols: list[str], on_ticker: Callable[[Ticker], None]) -> Subscription:
        for symbol in symbols:
            self.get_instrument(symbol)
        return polling_ticker_stream(self.get_ticker, symbols, on_ticker, interval=self.poll_interval)

    def server_time(self) -> datetime:
        return self.market_data.now()

    # State
    def _account(self) -> PaperAccount:
        account, _ = PaperAccount.objects.get_or_create(
            name=self.account_name, defaults={"initial_balance": self.initial_balance, "cash": self.initial_balance})
        return account

    def _locked_account(self) -> PaperAccount:
        return PaperAccount.objects.select_for_update().get(pk=self._account().pk)

    def _settled_account(self) -> PaperAccount:
        """The account after settling any resting order or stop the market has reached since the last look."""
        pending = self._pending_positions(PaperPosition.objects.filter(account=OuterRef("pk")))
        resting = PaperOrder.objects.filter(account=OuterRef("pk"), status=OrderStatus.NEW)
        account = (PaperAccount.objects.filter(name=self.account_name)  # one query for the reads' every call
                   .annotate(has_pending=Exists(pending), has_resting=Exists(resting)).first())
        if account is None:
            return self._account()  # a new account has nothing to settle
        if account.has_pending or account.has_resting:
            with transaction.atomic():
                account = self._locked_account()
                self._settle(account)
        return account

    @staticmethod
    def _pending_positions(positions):
        """Open positions: the market may have reached a stop, a take-profit or the liquidation, or funding is due."""
        return positions.filter(size__gt=0)

    @staticmethod
    def _position_row(account: PaperAccount, symbol: str) -> PaperPosition:
        position, _ = PaperPosition.objects.get_or_create(account=account, symbol=symbol)
        return position

    def _unrealized(self, position: PaperPosition) -> Decimal:
        mark = self.market_data.ticker(position.symbol).last_price
        return fills.unrealized_pnl(position.side, position.size, position.entry_price, mark)

    def _used_margin(self, account: PaperAccount, *, excluding: PaperOrder | None = None,
                     positions: list[PaperPosition] | None = None) -> Decimal:
        """Margin held by open positions and resting opening orders; ``positions``: every row of the account,
        when the caller has them already."""
        rows = list(account.positions.all()) if positions is None else positions
        leverage = {row.symbol: row.leverage for row in rows}
        used = sum((fills.initial_margin(row.size, row.entry_price, row.leverage) for row in rows if row.size > 0),
                   ZERO)
        resting = account.orders.filter(status=OrderStatus.NEW, reduce_only=False)
        if excluding is not None:
            resting = resting.exclude(pk=excluding.pk)
        used += sum((fills.initial_margin(row.qty, row.price, leverage.get(row.symbol, Decimal("1")))
                     for row in resting), ZERO)
        return used

    def _available(self, account: PaperAccount, *, excluding: PaperOrder | None = None) -> Decimal:
        positions = account.positions.filter(size__gt=0)
        equity = account.cash + sum((self._unrealized(row) for row in positions), ZERO)
        return equity - self._used_margin(account, excluding=excluding)

    # Orders in, fills out
    def _accept(self, account: PaperAccount, request: OrderRequest, rules: InstrumentRules,
                price: Decimal) -> PaperOrder:
        position = self._position_row(account, request.symbol)
        qty = self._reduce_only_qty(position, request) if request.reduce_only else request.qty
        if request.order_type == OrderType.MARKET:
            fill_price = fills.slipped_price(request.side, price, self.slippage_bps, rules.tick_size)
        else:
            fill_price = fills.marketable_limit_price(request.side, request.price, price, self.slippage_bps,
                                                      rules.tick_size)
        self._check_margin(account, position, request.side, qty, fill_price or request.price)
        order = PaperOrder.objects.create(
            account=account, order_id=str(uuid.uuid4()), order_link_id=request.order_link_id, symbol=request.symbol,
            side=request.side, order_type=request.order_type, qty=qty, price=request.price, status=OrderStatus.NEW,
            reduce_only=request.reduce_only, stop_loss=request.stop_loss, take_profit=request.take_profit,
            placed_at=self.market_data.now())
        if fill_price is not None:
            self._fill(account, order, position, qty, fill_price, at=order.placed_at,
                       checked_until=floor_minute(order.placed_at))
        return order

    @staticmethod
    def _reduce_only_qty(position: PaperPosition, request: OrderRequest) -> Decimal:
        if not position.size or position.side == request.side:
            raise OrderRejectedError("reduce-only order would not reduce anything: the position is zero or on the "
                                     "same side", ret_code=REDUCE_ONLY_NOTHING_TO_REDUCE)
        return min(request.qty, position.size)  # as on Bybit: a reduce-only order shrinks to the position

    def _check_margin(self, account: PaperAccount, position: PaperPosition, side: str, qty: Decimal, price: Decimal,
                      *, excluding: PaperOrder | None = None) -> None:
        opening = qty if (not position.size or position.side == side) else max(ZERO, qty - position.size)
        if not opening:
            return
        needed = fills.initial_margin(opening, price, position.leverage) + fills.fee(qty, price, self.fee_rate)
        available = self._available(account, excluding=excluding)
        if needed > available:
            raise OrderRejectedError(
                f"ab not enough for new order: it needs {needed:.2f} USDT of margin and fees at "
                f"{position.leverage}x, {max(ZERO, available):.2f} USDT is available", ret_code=INSUFFICIENT_BALANCE)

    def _fill(self, account: PaperAccount, order: PaperOrder, position: PaperPosition, qty: Decimal,
              price: Decimal, *, at: datetime, checked_until: datetime, trigger: str = "") -> None:
        """Execute ``qty`` of ``order`` at ``price`` (market time ``at``); stops are checked from ``checked_until``."""
        before = fills.PositionState(position.side or None, position.size, position.entry_price, position.open_fee)
        outcome = fills.apply_fill(before, order.side, qty, price, fills.fee(qty, price, self.fee_rate))
        after = outcome.position
        flipped_or_closed = before.is_open and after.side != before.side
        position.side, position.size = after.side or "", after.size
        position.entry_price, position.open_fee = after.entry_price, after.open_fee
        if after.is_open and (flipped_or_closed or not before.is_open):
            position.funded_until = at  # held from here: funding is due at the funding times after it
        if flipped_or_closed or not after.is_open:
            position.stop_loss = position.take_profit = None
            self._conditional(account, position.symbol).update(status=DEACTIVATED)  # Bybit cancels them too
        if after.is_open and (order.stop_loss or order.take_profit):
            position.stop_loss = order.stop_loss or position.stop_loss
            position.take_profit = order.take_profit or position.take_profit
        position.checked_until = checked_until
        position.save()
        account.cash += outcome.cash_change
        account.fees_paid += outcome.fee
        account.realized_pnl += outcome.realized_gross
        account.save(update_fields=["cash", "fees_paid", "realized_pnl", "updated_at"])
        order.status, order.avg_price, order.filled_qty, order.fee = OrderStatus.FILLED, price, qty, outcome.fee
        order.save(update_fields=["status", "avg_price", "filled_qty", "fee", "updated_at"])
        PaperFill.objects.create(account=account, order=order, symbol=order.symbol, side=order.side, qty=qty,
                                 price=price, fee=outcome.fee, trigger=trigger, market_time=at)
        if outcome.closed_qty:
            PaperClosedPnl.objects.create(
                account=account, order=order, symbol=order.symbol, side=order.side, qty=outcome.closed_qty,
                entry_price=outcome.closed_entry_price, exit_price=price, realized_pnl=outcome.closed_pnl)

    @staticmethod
    def _close_order(order: PaperOrder, status: OrderStatus, reason: str = "") -> None:
        order.status, order.reject_reason = status, reason
        order.save(update_fields=["status", "reject_reason", "updated_at"])

    # Settlement: what the market did since the last look
    def _settle(self, account: PaperAccount) -> None:
        symbols = set(self._pending_positions(account.positions.all()).values_list("symbol", flat=True))
        symbols |= set(account.orders.filter(status__in=[OrderStatus.NEW, UNTRIGGERED]).values_list("symbol",
                                                                                                     flat=True))
        for symbol in sorted(symbols):
            self._settle_symbol(account, symbol)

    def _settle_symbol(self, account: PaperAccount, symbol: str) -> None:
        now = self.market_data.now()
        position = self._position_row(account, symbol)
        orders = list(account.orders.filter(symbol=symbol, status=OrderStatus.NEW).order_by("created_at", "id"))
        for order in orders:
            if order.placed_at > now:  # the replay wrapped around to its start: the order rests from here on
                order.placed_at = now
                order.save(update_fields=["placed_at", "updated_at"])
        if position.checked_until and position.checked_until > now:
            position.checked_until = floor_minute(now)
        since = min([position.checked_until or floor_minute(now), *(floor_minute(o.placed_at) for o in orders)])
        price = self.market_data.ticker(symbol).last_price
        candles = [*self.market_data.minute_candles(symbol, since, now),
                   Candle(start=now, open=price, high=price, low=price, close=price, volume=ZERO)]
        rules = self.market_data.instrument(symbol)
        conditional = list(self._conditional(account, symbol)) if position.size else []
        for candle in candles:
            self._settle_funding(account, position, candle.start)
            self._check_stops(account, position, candle, rules, now, conditional)
            for order in orders:
                if order.status == OrderStatus.NEW and floor_minute(order.placed_at) <= candle.start:
                    self._check_limit(account, position, order, candle, now)
        position.checked_until = max(position.checked_until or now, floor_minute(now))
        position.save(update_fields=["checked_until", "updated_at"])

    def _check_stops(self, account: PaperAccount, position: PaperPosition, candle: Candle,
                     rules: InstrumentRules, now: datetime, conditional: list[PaperOrder]) -> None:
        """One candle against the position's stop, take-profit, trailing stop and partial take-profits, in the
        order ``market.exits.candle_step`` gives (the backtest engine's): fills first, then the trail moves."""
        if not position.size or (position.checked_until and candle.start < position.checked_until):
            return
        plan, targets = _exit_plan(position, conditional)
        liquidation_price = liquidation.liquidation_price(position.side, position.entry_price, position.leverage,
                                                          rules.tick_size)
        if (liquidation.before_stop(position.side, liquidation_price, plan.stop)
                and liquidation.reached(position.side, liquidation_price, candle.low, candle.high)):
            self._liquidate(account, position, liquidation_price, candle, now)
            return
        outcome = exits.candle_step(plan, position.size, candle.open, candle.high, candle.low)
        for row in targets[:len(plan.targets) - len(outcome.plan.targets)]:
            self._close_order(row, TRIGGERED)
            conditional.remove(row)
        for fill in outcome.fills:
            self._trigger(account, position, fill, candle, rules, now)
        if position.size and outcome.plan != plan:
            position.stop_loss = outcome.plan.stop
            position.save(update_fields=["stop_loss", "updated_at"])
            trailing = next((row for row in conditional if row.order_link_id.startswith(TRAILING_PREFIX)), None)
            if trailing is not None and outcome.plan.trailing.activation != trailing.take_profit:
                trailing.take_profit = outcome.plan.trailing.activation
                trailing.save(update_fields=["take_profit", "updated_at"])

    def _trigger(self, account: PaperAccount, position: PaperPosition, fill: exits.ExitFill, candle: Candle,
                 rules: InstrumentRules, now: datetime) -> None:
        """A triggered exit: a reduce-only market order of the fill's quantity, from its price, slipped."""
        side = Side(position.side).opposite
        order = PaperOrder.objects.create(
            account=account, order_id=str(uuid.uuid4()), order_link_id=f"{fill.kind[:2]}-{uuid.uuid4().hex}"[:36],
            symbol=position.symbol, side=side, order_type=OrderType.MARKET, qty=fill.qty, price=None,
            status=OrderStatus.NEW, reduce_only=True, placed_at=candle.start)
        price = fills.slipped_price(side, fill.price, self.slippage_bps, rules.tick_size)
        logger.info("paper %s triggered at %s", fill.kind, fill.price,
                    extra={"symbol": position.symbol, "order_link_id": order.order_link_id})
        self._fill(account, order, position, fill.qty, price, at=candle.start,
                   checked_until=_after(candle, now), trigger=fill.kind)

    def _liquidate(self, account: PaperAccount, position: PaperPosition, price: Decimal, candle: Candle,
                   now: datetime) -> None:
        """The exchange takes the position over at its liquidation price (no slippage), charging the taker fee."""
        order = PaperOrder.objects.create(
            account=account, order_id=str(uuid.uuid4()), order_link_id=f"lq-{uuid.uuid4().hex}"[:36],
            symbol=position.symbol, side=Side(position.side).opposite, order_type=OrderType.MARKET, qty=position.size,
            price=None, status=OrderStatus.NEW, reduce_only=True, placed_at=candle.start)
        logger.warning("paper position liquidated at %s", price,
                       extra={"symbol": position.symbol, "order_link_id": order.order_link_id})
        self._fill(account, order, position, position.size, price, at=candle.start,
                   checked_until=_after(candle, now), trigger=liquidation.LIQUIDATION)

    def _settle_funding(self, account: PaperAccount, position: PaperPosition, until: datetime) -> None:
        """Book the funding of every funding time after ``funded_until`` and up to ``until`` (the position was held
        at each: it is still open before the candle opening at ``until`` is looked at)."""
        if not position.size:
            return
        if position.funded_until is None:  # opened before funding was simulated: from now on
            position.funded_until = until
        for moment in funding.times(position.funded_until, until):
            rate, assumed = funding.rate_at(self._rates(position.symbol), int(moment.timestamp()) * 1000)
            mark = self._mark_at(position.symbol, moment)
            amount = funding.payment(position.side, position.size, mark, rate)
            _, created = PaperFunding.objects.get_or_create(
                account=account, symbol=position.symbol, funding_time=moment,
                defaults={"side": position.side, "size": position.size, "mark_price": mark, "rate": rate,
                          "assumed": assumed, "amount": amount})
            if created:
                account.cash += amount
                account.funding += amount
                account.save(update_fields=["cash", "funding", "updated_at"])
                logger.info("paper funding %s at rate %s", amount, rate,
                            extra={"symbol": position.symbol, "funding_time": moment.isoformat()})
        if until > position.funded_until:
            position.funded_until = until
            position.save(update_fields=["funded_until", "updated_at"])

    def _mark_at(self, symbol: str, moment: datetime) -> Decimal:
        """The close of the minute ending at ``moment`` (the backtest's mark too); the last price if there is none."""
        candles = self.market_data.minute_candles(symbol, moment - MINUTE, moment)
        return candles[-1].close if candles else self.market_data.ticker(symbol).last_price

    def _rates(self, symbol: str) -> dict[int, Decimal]:
        if symbol not in self._rate_cache:
            self._rate_cache[symbol] = self.funding_rates(symbol)
        return self._rate_cache[symbol]

    def _check_limit(self, account: PaperAccount, position: PaperPosition, order: PaperOrder, candle: Candle,
                     now: datetime) -> None:
        if not fills.limit_touched(order.side, order.price, candle.low, candle.high):
            return
        qty = order.qty
        if order.reduce_only:
            if not position.size or position.side == order.side:
                self._close_order(order, OrderStatus.CANCELLED, "reduce-only order had no position left to reduce")
                return
            qty = min(qty, position.size)
        try:
            self._check_margin(account, position, order.side, qty, order.price, excluding=order)
        except OrderRejectedError as error:
            self._close_order(order, OrderStatus.CANCELLED, error.message)
            return
        self._fill(account, order, position, qty, order.price, at=candle.start, checked_until=_after(candle, now))

    def _to_position(self, row: PaperPosition) -> Position:
        mark = self.market_data.ticker(row.symbol).last_price
        return Position(
            symbol=row.symbol, side=Side(row.side), size=row.size, entry_price=row.entry_price, mark_price=mark,
            unrealized_pnl=fills.unrealized_pnl(row.side, row.size, row.entry_price, mark), leverage=row.leverage,
            stop_loss=row.stop_loss, take_profit=row.take_profit,
            liquidation_price=liquidation.liquidation_price(row.side, row.entry_price, row.leverage,
                                                            self.market_data.instrument(row.symbol).tick_size),
            updated_at=row.updated_at)


def _exit_plan(position: PaperPosition, conditional: list[PaperOrder]) -> tuple[exits.ExitPlan, list[PaperOrder]]:
    """The position's exits as ``market.exits`` reads them, and its partial take-profit rows, nearest first."""
    long = position.side == Side.BUY
    targets = sorted((row for row in conditional if row.order_link_id.startswith(PARTIAL_PREFIX)),
                     key=lambda row: row.price if long else -row.price)
    trailing = next((row for row in conditional if row.order_link_id.startswith(TRAILING_PREFIX)), None)
    plan = exits.ExitPlan(
        side=position.side, stop=position.stop_loss, take_profit=position.take_profit,
        trailing=exits.Trailing(trailing.price, trailing.take_profit) if trailing else None,
        targets=tuple(exits.Target(row.price, row.qty) for row in targets),
        trailed=trailing is not None and position.stop_loss != trailing.stop_loss)
    return plan, targets


def _after(candle: Candle, now: datetime) -> datetime:
    """Where stop checks resume after a fill inside ``candle``: the next minute, or this one if it is still open."""
    return candle.start + MINUTE if candle.start + MINUTE <= now else floor_minute(candle.start)


def _to_order(row: PaperOrder) -> Order:
    return Order(order_id=row.order_id, order_link_id=row.order_link_id, symbol=row.symbol, side=Side(row.side),
                 order_type=OrderType(row.order_type), qty=row.qty, price=row.price, status=OrderStatus(row.status),
                 avg_price=row.avg_price, filled_qty=row.filled_qty, fee=row.fee, reduce_only=row.reduce_only,
                 reject_reason=row.reject_reason, created_at=row.created_at, updated_at=row.updated_at)


def downloaded_funding_rates(symbol: str) -> dict[int, Decimal]:
    """The funding history downloaded beside the candles (``manage.py download_candles --funding``), else that
    bundled with the replay; {} when there is none (``market.funding.ASSUMED_RATE`` then)."""
    for root in (settings.DATA_DIR / "candles", settings.CANDLE_DATA_DIR):
        rates = read_funding(funding_path(root, symbol))
        if rates:
            return rates
    return {}
