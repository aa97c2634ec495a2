"""What each dashboard card shows: one context function per fragment template.

The page's first render, the cards' slow polling fallback and the socket push (``dashboard.live``) all
build a card's context here and render the same ``templates/dashboard/_<card>.html``, so a card looks
the same whichever way it arrived. Socket events carry JSON (decimals and times as strings); the
functions taking event data turn it back into what the templates expect.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from dashboard.market_stream import wanted_symbols
from dashboard.templatetags.figures import as_decimal
from exchange.base import Exchange
from exchange.factory import get_exchange, get_market_data
from market.errors import ExchangeError
from trades.models import Trade
from trades.queries import bot_status, stats, with_unrealized

logger = logging.getLogger(__name__)

RECENT_TRADES = 20
# A cycle fires every minute; three without one means the worker or beat is not running.
CYCLE_OVERDUE = timedelta(minutes=3)
DEFAULT_SYMBOL = "BTCUSDT"


def price_source() -> str:
    """How prices are labelled on screen: the paper replay is Binance spot data, not Bybit's."""
    if settings.EXCHANGE_MODE != "paper":
        return f"Bybit {settings.EXCHANGE_MODE}"
    return get_market_data().label


def followed_symbols() -> list[str]:
    """Symbols whose price the dashboard shows: subscribed ones and active strategies' (as ``stream_market``)."""
    return wanted_symbols() or [DEFAULT_SYMBOL]


# Balance -------------------------------------------------------------------------------------------

def balance_context(exchange: Exchange) -> dict:
    try:
        balance = exchange.get_balance()
    except ExchangeError as error:
        logger.warning("balance unavailable for the dashboard: %s", error)
        return {"balance": None, "balance_error": str(error)}
    return {"balance": vars(balance), "balance_error": ""}


def balance_from_event(data: dict) -> dict:
    """A ``balanceUpdate`` event (trades.announce.balance_changed) as the balance card's context."""
    return {"balance": {key: value if key == "coin" else as_decimal(value) for key, value in data.items()},
            "balance_error": ""}


# Positions -----------------------------------------------------------------------------------------

def positions_context(exchange: Exchange) -> dict:
    try:
        positions = [position for position in exchange.get_positions() if position.size > 0]
    except ExchangeError as error:
        logger.warning("positions unavailable for the dashboard: %s", error)
        return {"positions": [], "positions_error": str(error)}
    return {"positions": positions, "positions_error": ""}


# Stats ---------------------------------------------------------------------------------------------

def stats_context() -> dict:
    return {"stats": stats()}


# Trades --------------------------------------------------------------------------------------------

def recent_trades_context(*, highlight: int | None = None, stamp: str = "", exchange: Exchange | None = None) -> dict:
    """The newest trades, the open ones with their unrealized PnL. ``highlight`` marks the row an event was about;
    ``stamp`` changes with every event, which is how the chart script knows to redraw its trade markers."""
    trades = Trade.objects.select_related("strategy").order_by("-created_at", "-id")[:RECENT_TRADES]
    return {"trades": with_unrealized(trades, exchange or get_exchange()), "highlight": highlight, "stamp": stamp}


def toast_context(action: str, trade: dict) -> dict:
    """A ``tradeExecuted`` event's toast: what happened to which trade, in one line."""
    pnl = as_decimal(trade.get("realized_pnl"))
    if action == "closed":
        tone = "good" if pnl is not None and pnl > 0 else "bad" if pnl is not None and pnl < 0 else "info"
    else:
        tone = "bad" if action == "failed" else "info"
    return {"action": action, "trade": {**trade, "realized_pnl": pnl}, "tone": tone}


# Bot status ----------------------------------------------------------------------------------------

def status_context(status: dict, *, now: datetime | None = None) -> dict:
    """``trades.queries.bot_status()`` (or a ``botStatus`` event) with times parsed and staleness judged."""
    now = now or timezone.now()
    last_cycle_at = _as_datetime(status.get("last_cycle_at"))
    # Before the first cycle there is nothing to be late against: the status line says "not yet" instead.
    overdue = bool(status.get("active_strategies") and last_cycle_at and now - last_cycle_at > CYCLE_OVERDUE)
    paused = [{**item, "until": _as_datetime(item.get("until"))} for item in status.get("paused_strategies") or []]
    return {"status": {**status, "last_cycle_at": last_cycle_at, "paused_strategies": paused}, "overdue": overdue,
            "overdue_minutes": CYCLE_OVERDUE.seconds // 60}


def current_status() -> dict:
    return status_context(bot_status())


def _as_datetime(value) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return parse_datetime(value)


# Prices --------------------------------------------------------------------------------------------

def tick_context(data: dict) -> dict:
    """One symbol's price, from a ``marketUpdate`` event or a ticker read for the page."""
    return {"tick": {"symbol": data["symbol"], "price": as_decimal(data.get("price")),
                     "time": _as_datetime(data.get("time")), "change": as_decimal(data.get("change_24h_pct"))}}


def ticks_for(exchange: Exchange, symbols: list[str]) -> list[dict]:
    ticks = []
    for symbol in symbols:
        try:
            ticker = exchange.get_ticker(symbol)
            ticks.append(tick_context({"symbol": symbol, "price": ticker.last_price, "time": ticker.time,
                                       "change_24h_pct": ticker.change_24h_pct})["tick"])
        except ExchangeError as error:
            logger.warning("no price for the dashboard: %s", error, extra={"symbol": symbol})
            ticks.append({"symbol": symbol, "price": None, "time": None, "change": None})
    return ticks


def equity_start() -> Decimal | None:
    """Where the equity curve starts: known for the paper account only (a real account's history is not ours)."""
    return settings.PAPER_INITIAL_BALANCE if settings.EXCHANGE_MODE == "paper" else None
