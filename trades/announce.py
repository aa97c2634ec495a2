"""Telling the world about a trade: live dashboard events and notifications, from one place.

Both go out after the surrounding transaction commits and neither can fail or slow the trade.
"""

from __future__ import annotations

from core.events import Event, publish, publish_many
from core.notifications import notify
from trades.serializers import TradeSerializer


def _payload(trade) -> dict:
    return TradeSerializer(trade).data


def trade_opened(trade) -> None:
    publish(Event.TRADE_EXECUTED, {"action": "opened", "trade": _payload(trade)})
    notify.trade_opened(trade)


def trade_closed(trade) -> None:
    publish(Event.TRADE_EXECUTED, {"action": "closed", "trade": _payload(trade)})
    notify.trade_closed(trade)


def trade_failed(trade) -> None:
    publish(Event.TRADE_EXECUTED, {"action": "failed", "trade": _payload(trade)})


def balance_changed(balance) -> None:
    publish(Event.BALANCE_UPDATE, {
        "coin": balance.coin, "equity": balance.equity, "wallet_balance": balance.wallet_balance,
        "available": balance.available, "unrealized_pnl": balance.unrealized_pnl,
    })


def prices(ticks: dict) -> None:
    """``{symbol: (price, candle_time)}`` from the cycle's fresh candles."""
    publish_many(Event.MARKET_UPDATE, [{"symbol": symbol, "price": price, "time": at}
                                       for symbol, (price, at) in ticks.items()])
