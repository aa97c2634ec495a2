"""Bybit v5 wire objects (strings everywhere, "" for none) to the typed objects of ``exchange.base``."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

import numpy as np
import pandas as pd

from market.candles import COLUMNS
from market.errors import ExchangeError
from market.types import (
    Balance,
    Candle,
    ClosedPnl,
    InstrumentRules,
    Order,
    OrderStatus,
    OrderType,
    Position,
    Side,
    Ticker,
)


def dec(value, default: Decimal | None = Decimal("0")) -> Decimal | None:
    if value in (None, ""):
        return default
    try:
        return Decimal(str(value))
    except InvalidOperation:
        raise ExchangeError(f"Bybit sent {value!r} where a number was expected") from None


def positive_or_none(value) -> Decimal | None:
    number = dec(value, None)
    return number if number else None


def ms_to_datetime(value) -> datetime | None:
    if value in (None, "", "0", 0):
        return None
    return datetime.fromtimestamp(int(value) / 1000, tz=UTC)


def datetime_to_ms(value: datetime) -> int:
    return int(value.timestamp() * 1000)


def candle(row: list) -> Candle:
    start, open_, high, low, close, volume = row[:6]
    return Candle(start=ms_to_datetime(start), open=dec(open_), high=dec(high), low=dec(low), close=dec(close),
                  volume=dec(volume))


def candles(result: dict) -> list[Candle]:
    """Bybit lists klines newest first; the interface wants them oldest first."""
    return [candle(row) for row in reversed(result.get("list") or [])]


def kline_frame(result: dict) -> pd.DataFrame:
    """The same candles as ``candles`` as a candle frame (``market.candles``), parsed straight to float64: the live
    cycle's path, where a Candle of Decimals per row cost more than the indicators on them."""
    rows = result.get("list") or []
    try:
        table = np.array([row[:6] for row in reversed(rows)], dtype="float64").reshape(len(rows), 6)
    except (TypeError, ValueError) as error:
        raise ExchangeError(f"Bybit sent a kline that is not six numbers: {error}") from None
    starts = table[:, 0].astype("int64").astype("datetime64[ms]").astype("datetime64[us]")
    index = pd.DatetimeIndex(starts, name="start").tz_localize("UTC")
    # Plain object labels: pandas' default (Arrow) string labels cost more than the numbers on every column the
    # strategies add or read, a few hundred times a cycle.
    return pd.DataFrame(table[:, 1:], index=index, columns=pd.Index(COLUMNS, dtype=object))


def ticker(row: dict, time: datetime) -> Ticker:
    change = dec(row.get("price24hPcnt"), None)
    return Ticker(symbol=row["symbol"], last_price=dec(row["lastPrice"]), time=time,
                  bid=positive_or_none(row.get("bid1Price")), ask=positive_or_none(row.get("ask1Price")),
                  mark_price=positive_or_none(row.get("markPrice")),
                  change_24h_pct=change * 100 if change is not None else None,
                  volume_24h=dec(row.get("volume24h"), None))


def instrument(row: dict) -> InstrumentRules:
    lots, prices, leverage = row["lotSizeFilter"], row["priceFilter"], row.get("leverageFilter") or {}
    return InstrumentRules(
        symbol=row["symbol"], tick_size=dec(prices["tickSize"]), qty_step=dec(lots["qtyStep"]),
        min_qty=dec(lots["minOrderQty"]), max_qty=dec(lots["maxOrderQty"]),
        max_market_qty=positive_or_none(lots.get("maxMktOrderQty")),
        min_notional=dec(lots.get("minNotionalValue")), max_leverage=dec(leverage.get("maxLeverage"), Decimal("100")))


def order(row: dict) -> Order:
    return Order(
        order_id=row["orderId"], order_link_id=row.get("orderLinkId", ""), symbol=row["symbol"],
        side=Side(row["side"]), order_type=OrderType(row["orderType"]), qty=dec(row["qty"]),
        price=positive_or_none(row.get("price")) if row["orderType"] == OrderType.LIMIT else None,
        status=OrderStatus(row["orderStatus"]), avg_price=positive_or_none(row.get("avgPrice")),
        filled_qty=dec(row.get("cumExecQty")), fee=dec(row.get("cumExecFee")),
        reduce_only=bool(row.get("reduceOnly")), reject_reason=_reason(row.get("rejectReason")),
        created_at=ms_to_datetime(row.get("createdTime")), updated_at=ms_to_datetime(row.get("updatedTime")))


def _reason(value) -> str:
    return "" if value in (None, "", "EC_NoError") else str(value)


def position(row: dict) -> Position:
    return Position(
        symbol=row["symbol"], side=Side(row["side"]), size=dec(row["size"]), entry_price=dec(row.get("avgPrice")),
        mark_price=dec(row.get("markPrice")), unrealized_pnl=dec(row.get("unrealisedPnl")),
        leverage=dec(row.get("leverage"), Decimal("1")), stop_loss=positive_or_none(row.get("stopLoss")),
        take_profit=positive_or_none(row.get("takeProfit")), liquidation_price=positive_or_none(row.get("liqPrice")),
        updated_at=ms_to_datetime(row.get("updatedTime")))


def closed_pnl(row: dict) -> ClosedPnl:
    return ClosedPnl(
        symbol=row["symbol"], side=Side(row["side"]), qty=dec(row.get("closedSize") or row.get("qty")),
        entry_price=dec(row["avgEntryPrice"]), exit_price=dec(row["avgExitPrice"]),
        realized_pnl=dec(row["closedPnl"]), order_id=row.get("orderId", ""),
        closed_at=ms_to_datetime(row.get("updatedTime") or row.get("createdTime")))


def balance(result: dict, coin: str = "USDT") -> Balance:
    accounts = result.get("list") or []
    if not accounts:
        raise ExchangeError("Bybit returned no wallet for this account")
    account = accounts[0]
    row = next((entry for entry in account.get("coin") or [] if entry.get("coin") == coin), None)
    if row is None:
        return Balance(coin=coin, equity=Decimal("0"), wallet_balance=Decimal("0"), available=Decimal("0"),
                       unrealized_pnl=Decimal("0"))
    used = dec(row.get("totalPositionIM")) + dec(row.get("totalOrderIM"))
    available = dec(row.get("availableToWithdraw"), None)
    if available is None:
        available = dec(account.get("totalAvailableBalance"))
    return Balance(coin=coin, equity=dec(row.get("equity")), wallet_balance=dec(row.get("walletBalance")),
                   available=available, unrealized_pnl=dec(row.get("unrealisedPnl")), used_margin=used)
