"""The little exchange behind the fake Bybit server: wallet, orders, positions, closed PnL, prices, klines.

It answers in Bybit v5's wire shapes (strings for numbers, ``""`` for none, milliseconds for times) and
refuses what Bybit refuses with Bybit's retCodes. Its arithmetic is written here, independently of the
app's own fill model, so tests compare two implementations rather than one with itself.
"""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass, field
from decimal import Decimal

from market.instruments import BUNDLED_RULES
from market.intervals import INTERVAL_MINUTES

FEE_RATE = Decimal("0.00055")
OPEN_STATUSES = {"New", "PartiallyFilled", "Untriggered"}


class BybitError(Exception):
    def __init__(self, ret_code: int, ret_msg: str):
        super().__init__(ret_msg)
        self.ret_code, self.ret_msg = ret_code, ret_msg


def now_ms() -> int:
    return int(time.time() * 1000)


def s(value: Decimal | None) -> str:
    return "" if value is None else format(value.normalize(), "f")


@dataclass
class FakePosition:
    symbol: str
    side: str = ""
    size: Decimal = Decimal("0")
    entry: Decimal = Decimal("0")
    leverage: Decimal = Decimal("10")
    open_fee: Decimal = Decimal("0")  # opening fees not yet reported in a closed PnL
    stop_loss: Decimal | None = None
    take_profit: Decimal | None = None
    trailing: Decimal | None = None  # trailingStop: a distance in price; the stop follows the best price by it
    active_price: Decimal | None = None  # activePrice: trailing starts once this trades (None: trailing now)
    partial_tps: list[tuple[Decimal, Decimal]] = field(default_factory=list)  # (price, size), tpslMode Partial
    updated: int = field(default_factory=now_ms)

    def trail(self, price: Decimal) -> None:
        """Bybit's trailing stop, as its help page tells it: once the activation price trades, the stop sits the
        distance behind the best price since, and only ever moves towards it."""
        if not self.trailing or not self.size:
            return
        long = self.side == "Buy"
        if self.active_price is not None:
            if (price < self.active_price) if long else (price > self.active_price):
                return
            self.active_price = None
        level = price - self.trailing if long else price + self.trailing
        if self.stop_loss is None or (level > self.stop_loss if long else level < self.stop_loss):
            self.stop_loss = level


class FakeBybitState:
    def __init__(self, balance: Decimal = Decimal("10000")):
        self.lock = threading.RLock()
        self.wallet = balance
        self.prices: dict[str, Decimal] = {}
        self.klines: dict[tuple[str, str], list[list[str]]] = {}  # oldest first, wire rows
        self.funding: dict[str, list[tuple[int, str]]] = {}  # symbol -> (settlement ms, rate), oldest first
        self.rules = dict(BUNDLED_RULES)
        self.orders: dict[str, dict] = {}  # orderId -> wire order, in creation order
        self.positions: dict[str, FakePosition] = {}
        self.closed_pnl: list[dict] = []
        # How the next opening orders end instead of filling whole: ("partial", qty) fills only qty and cancels
        # the rest (PartiallyFilledCanceled, as Bybit ends a market order it could not fill); ("rejected",
        # reason) accepts the order (retCode 0) and then rejects it, as Bybit does for margin checks.
        self.next_outcomes: list[tuple[str, object]] = []

    # Market
    def funding_history(self, params: dict) -> dict:
        """``/v5/market/funding/history``: newest first, at most ``limit`` (1 to 200) within startTime..endTime."""
        limit = int(params.get("limit") or 200)
        if not 1 <= limit <= 200:
            raise ValueError("limit must be in [1, 200]")
        symbol = params.get("symbol", "")
        rows = [(time, rate) for time, rate in self.funding.get(symbol, [])
                if int(params.get("startTime") or 0) <= time <= int(params.get("endTime") or 2**62)]
        return {"category": "linear", "list": [
            {"symbol": symbol, "fundingRate": rate, "fundingRateTimestamp": str(time)}
            for time, rate in reversed(rows[-limit:])]}

    def price(self, symbol: str) -> Decimal:
        self.instrument_rules(symbol)
        if symbol not in self.prices:
            rows = self.kline_rows(symbol, "1")
            self.prices[symbol] = Decimal(rows[-1][4]) if rows else Decimal("100")
        return self.prices[symbol]

    def set_price(self, symbol: str, price: Decimal) -> None:
        with self.lock:
            self.prices[symbol] = Decimal(price)
            for order in list(self.orders.values()):
                if order["symbol"] == symbol and order["orderStatus"] == "New" and self._crosses(order, price):
                    self._execute(order, Decimal(order["price"]))
            self._trigger_stops(symbol, Decimal(price))
            position = self.positions.get(symbol)
            if position is not None:
                position.trail(Decimal(price))

    def _trigger_stops(self, symbol: str, price: Decimal) -> None:
        """A price through the position's stop-loss or take-profit closes it there, as Bybit's trigger would; then
        the partial take-profits it reached close their sizes."""
        position = self.positions.get(symbol)
        if position is None or not position.size:
            return
        long = position.side == "Buy"
        for level, kind in ((position.stop_loss, "StopLoss"), (position.take_profit, "TakeProfit")):
            if level is None:
                continue
            hit = (price <= level if kind == "StopLoss" else price >= level) if long else (
                price >= level if kind == "StopLoss" else price <= level)
            if hit:
                kind = "TrailingStop" if kind == "StopLoss" and position.trailing else kind
                self._close_at(position, level, position.size, kind)
                return
        for level, size in list(position.partial_tps):
            if position.size and (price >= level if long else price <= level):
                position.partial_tps.remove((level, size))
                self._close_at(position, level, min(size, position.size), "PartialTakeProfit")

    def _close_at(self, position: FakePosition, level: Decimal, size: Decimal, kind: str) -> None:
        order = {
            "orderId": str(uuid.uuid4()), "orderLinkId": "", "symbol": position.symbol,
            "side": "Sell" if position.side == "Buy" else "Buy", "orderType": "Market", "price": "0", "qty": s(size),
            "orderStatus": "New", "avgPrice": "", "cumExecQty": "0", "cumExecFee": "0", "reduceOnly": True,
            "timeInForce": "IOC", "positionIdx": 0, "stopLoss": "", "takeProfit": "", "stopOrderType": kind,
            "rejectReason": "EC_NoError", "createdTime": str(now_ms()), "updatedTime": str(now_ms()),
            "category": "linear"}
        self.orders[order["orderId"]] = order
        self._execute(order, level)

    def instrument_rules(self, symbol: str):
        if symbol not in self.rules:
            raise BybitError(10001, "params error: symbol invalid")
        return self.rules[symbol]

    def kline_rows(self, symbol: str, interval: str) -> list[list[str]]:
        if (symbol, interval) not in self.klines:
            self.klines[(symbol, interval)] = bundled_kline_rows(symbol, interval)
        return self.klines[(symbol, interval)]

    # Orders
    def create_order(self, body: dict) -> dict:
        with self.lock:
            symbol, side, link = body.get("symbol"), body.get("side"), body.get("orderLinkId") or ""
            rules = self.instrument_rules(symbol)
            if side not in ("Buy", "Sell"):
                raise BybitError(10001, "params error: side invalid")
            if link and any(order["orderLinkId"] == link for order in self.orders.values()):
                raise BybitError(110072, "OrderLinkedID is duplicate")
            qty = Decimal(str(body.get("qty", "0")))
            if qty < rules.min_qty or (qty / rules.qty_step) % 1:
                raise BybitError(10001, f"Qty invalid: {qty} (min {rules.min_qty}, step {rules.qty_step})")
            order_type = body.get("orderType")
            price = Decimal(str(body["price"])) if order_type == "Limit" else None
            market = self.price(symbol)
            position = self.positions.setdefault(symbol, FakePosition(symbol))
            reduce_only = bool(body.get("reduceOnly"))
            if reduce_only:
                if not position.size or position.side == side:
                    raise BybitError(110017, "current position is zero, cannot fix reduce-only order qty")
                qty = min(qty, position.size)
            elif qty * (price or market) / position.leverage > self.available():
                raise BybitError(110007, "ab not enough for new order")
            order = {
                "orderId": str(uuid.uuid4()), "orderLinkId": link, "symbol": symbol, "side": side,
                "orderType": order_type, "price": s(price) if price else "0", "qty": s(qty),
                "orderStatus": "New", "avgPrice": "", "cumExecQty": "0", "cumExecFee": "0",
                "reduceOnly": reduce_only, "timeInForce": body.get("timeInForce", "GTC"), "positionIdx": 0,
                "stopLoss": body.get("stopLoss", ""), "takeProfit": body.get("takeProfit", ""),
                "rejectReason": "EC_NoError", "createdTime": str(now_ms()), "updatedTime": str(now_ms()),
                "category": "linear",
            }
            self.orders[order["orderId"]] = order
            outcome = self.next_outcomes.pop(0) if self.next_outcomes and not reduce_only else None
            if outcome and outcome[0] == "rejected":
                order.update(orderStatus="Rejected", rejectReason=outcome[1], updatedTime=str(now_ms()))
            elif outcome and outcome[0] == "partial":
                if outcome[1]:
                    self._execute(order, price if order_type == "Limit" else market, qty=Decimal(outcome[1]))
                order.update(orderStatus="PartiallyFilledCanceled", rejectReason="EC_CancelForNoFullFill",
                             updatedTime=str(now_ms()))
            elif order_type == "Market" or self._crosses(order, market):
                self._execute(order, market)
            return {"orderId": order["orderId"], "orderLinkId": link}

    @staticmethod
    def _crosses(order: dict, price: Decimal) -> bool:
        limit = Decimal(order["price"])
        return price <= limit if order["side"] == "Buy" else price >= limit

    def _execute(self, order: dict, price: Decimal, qty: Decimal | None = None) -> None:
        """Fill ``qty`` of the order (all of it by default) at ``price``."""
        qty, side = qty or Decimal(order["qty"]), order["side"]
        position = self.positions.setdefault(order["symbol"], FakePosition(order["symbol"]))
        fee = qty * price * FEE_RATE
        self.wallet -= fee
        if position.size and position.side != side:
            closed = min(qty, position.size)
            sign = 1 if position.side == "Buy" else -1
            pnl = (price - position.entry) * closed * sign
            open_fee_share = position.open_fee * closed / position.size
            position.open_fee -= open_fee_share
            self.wallet += pnl
            self.closed_pnl.append({
                "symbol": order["symbol"], "orderId": order["orderId"], "side": side, "qty": s(closed),
                "closedSize": s(closed), "avgEntryPrice": s(position.entry), "avgExitPrice": s(price),
                "closedPnl": s(pnl - open_fee_share - fee * closed / qty), "orderType": order["orderType"],
                "leverage": s(position.leverage),
                "createdTime": str(now_ms()), "updatedTime": str(now_ms())})
            position.size -= closed
            rest = qty - closed
            if not position.size:
                position.side, position.entry, position.stop_loss, position.take_profit = "", Decimal("0"), None, None
                position.trailing = position.active_price = None
                position.partial_tps = []
            if rest:
                position.side, position.size, position.entry = side, rest, price
                position.open_fee = fee * rest / qty
        else:
            total = position.size + qty
            position.entry = (position.size * position.entry + qty * price) / total
            position.side, position.size = side, total
            position.open_fee += fee
        if order.get("stopLoss"):
            position.stop_loss = Decimal(order["stopLoss"])
        if order.get("takeProfit"):
            position.take_profit = Decimal(order["takeProfit"])
        position.updated = now_ms()
        order.update(orderStatus="Filled" if qty == Decimal(order["qty"]) else "PartiallyFilled", avgPrice=s(price),
                     cumExecQty=s(qty), cumExecFee=s(fee), updatedTime=str(now_ms()))

    def find_orders(self, params: dict, *, open_only: bool) -> list[dict]:
        rows = list(reversed(self.orders.values()))  # newest first, like Bybit
        for key in ("symbol", "orderId", "orderLinkId"):
            if params.get(key):
                rows = [row for row in rows if row[key] == params[key]]
        if open_only and not (params.get("orderId") or params.get("orderLinkId")):
            rows = [row for row in rows if row["orderStatus"] in OPEN_STATUSES]
        return rows[: int(params.get("limit", 20))]

    def cancel_order(self, body: dict) -> dict:
        with self.lock:
            matches = [row for row in self.orders.values() if row["symbol"] == body.get("symbol") and (
                (body.get("orderId") and row["orderId"] == body["orderId"])
                or (body.get("orderLinkId") and row["orderLinkId"] == body["orderLinkId"]))]
            if not matches or matches[0]["orderStatus"] not in OPEN_STATUSES:
                raise BybitError(110001, "order not exists or too late to cancel")
            matches[0].update(orderStatus="Cancelled", updatedTime=str(now_ms()))
            return {"orderId": matches[0]["orderId"], "orderLinkId": matches[0]["orderLinkId"]}

    def cancel_all(self, body: dict) -> dict:
        with self.lock:
            cancelled = []
            for row in self.orders.values():
                if row["orderStatus"] in OPEN_STATUSES and (not body.get("symbol") or row["symbol"] == body["symbol"]):
                    row.update(orderStatus="Cancelled", updatedTime=str(now_ms()))
                    cancelled.append({"orderId": row["orderId"], "orderLinkId": row["orderLinkId"]})
            return {"list": cancelled, "success": "1"}

    # Positions and wallet
    def set_leverage(self, body: dict) -> dict:
        with self.lock:
            self.instrument_rules(body.get("symbol"))
            position = self.positions.setdefault(body["symbol"], FakePosition(body["symbol"]))
            leverage = Decimal(body["buyLeverage"])
            if leverage == position.leverage:
                raise BybitError(110043, "leverage not modified")
            position.leverage = leverage
            return {}

    def trading_stop(self, body: dict) -> dict:
        with self.lock:
            position = self.positions.get(body.get("symbol"))
            if position is None or not position.size:
                raise BybitError(10001, "can not set tp/sl/ts for zero position")
            if body.get("tpslMode") == "Partial":
                size = Decimal(body.get("tpSize") or "0")
                if not body.get("takeProfit") or not 0 < size <= position.size:
                    raise BybitError(10001, f"params error: tpSize {size} must be more than 0 and at most the "
                                            f"position size {position.size}")
                position.partial_tps.append((Decimal(body["takeProfit"]), size))
                return {}
            if "stopLoss" in body:
                position.stop_loss = Decimal(body["stopLoss"]) or None
            if "takeProfit" in body:
                position.take_profit = Decimal(body["takeProfit"]) or None
            if "trailingStop" in body:
                position.trailing = Decimal(body["trailingStop"]) or None
                position.active_price = Decimal(body["activePrice"]) if body.get("activePrice") else None
                position.trail(self.price(position.symbol))  # Bybit trails from the last price at once
            return {}

    def unrealized(self, position: FakePosition) -> Decimal:
        sign = 1 if position.side == "Buy" else -1
        return (self.price(position.symbol) - position.entry) * position.size * sign if position.size else Decimal(0)

    def used_margin(self) -> Decimal:
        return sum((p.size * p.entry / p.leverage for p in self.positions.values() if p.size), Decimal("0"))

    def available(self) -> Decimal:
        equity = self.wallet + sum((self.unrealized(p) for p in self.positions.values()), Decimal("0"))
        return equity - self.used_margin()

    def position_rows(self, params: dict) -> list[dict]:
        rows = []
        for position in self.positions.values():
            if params.get("symbol") and position.symbol != params["symbol"]:
                continue
            rows.append({
                "symbol": position.symbol, "side": position.side, "size": s(position.size),
                "avgPrice": s(position.entry), "markPrice": s(self.price(position.symbol)),
                "unrealisedPnl": s(self.unrealized(position)), "leverage": s(position.leverage),
                "stopLoss": s(position.stop_loss) or "0", "takeProfit": s(position.take_profit) or "0",
                "trailingStop": s(position.trailing) or "0", "activePrice": s(position.active_price) or "0",
                "liqPrice": "", "positionIdx": 0, "tpslMode": "Full", "updatedTime": str(position.updated)})
        return rows

    def wallet_result(self) -> dict:
        unrealized = sum((self.unrealized(p) for p in self.positions.values()), Decimal("0"))
        equity = self.wallet + unrealized
        used = self.used_margin()
        return {"list": [{
            "accountType": "UNIFIED", "totalEquity": s(equity), "totalWalletBalance": s(self.wallet),
            "totalAvailableBalance": s(equity - used), "totalInitialMargin": s(used),
            "coin": [{"coin": "USDT", "equity": s(equity), "walletBalance": s(self.wallet),
                      "unrealisedPnl": s(unrealized), "totalPositionIM": s(used), "totalOrderIM": "0",
                      "availableToWithdraw": ""}]}]}


def bundled_kline_rows(symbol: str, interval: str, count: int = 1000) -> list[list[str]]:
    """The last ``count`` candles of the bundled real data, in Bybit's wire rows, oldest first."""
    from django.conf import settings

    from exchange.replay import load_minutes
    from market.candles import bundled_files, resample

    files = bundled_files(settings.CANDLE_DATA_DIR)
    if symbol not in files:
        return []
    minutes = load_minutes(str(files[symbol]))
    frame = resample(minutes.iloc[-(count + 1) * INTERVAL_MINUTES[interval]:], interval).iloc[-count:]
    return [[str(int(start.timestamp() * 1000)), *(repr(round(float(value), 8)) for value in row),
             repr(round(float(row.close * row.volume), 4))]  # turnover, in USDT
            for start, row in zip(frame.index, frame.itertuples(index=False), strict=True)]
