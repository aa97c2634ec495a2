"""Live events as HTML: what the dashboard socket sends a browser for each event.

Each event becomes a short list of messages. A message is HTML whose top-level elements carry
``hx-swap-oob``; the htmx ws extension swaps each into the page by its id, so the page keeps no
client-side state. The fragments are the card templates the page itself renders (``dashboard.cards``).
Messages are rendered one at a time, cheapest first: the trade row and toast go out before the
positions card, which has to ask the exchange.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable

from django.template.loader import render_to_string

from core.events import Event
from dashboard import cards
from exchange.base import Exchange
from exchange.factory import get_exchange

SYMBOL = re.compile(r"^[A-Z0-9]{2,30}$")
MAX_SYMBOLS = 100

Render = Callable[[], str]


def _exchange() -> Exchange:
    return get_exchange()


def parse_symbols(raw: str) -> set[str]:
    """The symbols whose price slot a page already has (from the socket URL), bounded and well-formed."""
    return {symbol for symbol in raw.split(",")[:MAX_SYMBOLS] if SYMBOL.match(symbol)}


def plan(event: str, data: dict, *, symbols: set[str], exchange: Callable[[], Exchange] = _exchange) -> list[Render]:
    """The messages for one event, as functions to call (in a worker thread: they may read the database or
    the exchange) in order. ``symbols`` is the page's price slots; a new symbol's slot is appended to it."""
    if event == Event.MARKET_UPDATE:
        return [lambda: market_update(data, symbols, exchange)]
    if event == Event.TRADE_EXECUTED:
        return [lambda: trade_executed(data, exchange()), lambda: after_trade(exchange())]
    if event == Event.BALANCE_UPDATE:
        return [lambda: balance_update(data), lambda: positions(exchange())]
    if event == Event.BOT_STATUS:
        return [lambda: bot_status(data)]
    return []  # backtest progress and future events: nothing on the dashboard shows them


# Other pages (trades, strategies) are told which kind of thing changed; what shows it refetches itself.
PAGE_SIGNALS = {Event.TRADE_EXECUTED: "trade", Event.BOT_STATUS: "cycle", Event.BACKTEST_PROGRESS: "backtest"}
_signals = itertools.count(1)


def page_signal(event: str) -> str:
    """The signal element for ``event`` (empty for events such pages do not show, like every price tick)."""
    name = PAGE_SIGNALS.get(event)
    if name is None:
        return ""
    return f'<div id="live-signal" hx-swap-oob="true" hidden data-event="{name}" data-seq="{next(_signals)}"></div>'


def market_update(data: dict, symbols: set[str], exchange: Callable[[], Exchange]) -> str:
    """One price slot; or, for a symbol the page has no slot for yet, the whole strip with it added (the
    other prices read afresh), so a slot is never missing nor doubled, even after a reconnect."""
    symbol = data.get("symbol", "")
    if not SYMBOL.match(symbol):
        return ""
    if symbol in symbols:
        return _render("dashboard/_tick.html", cards.tick_context(data), oob=True)
    if len(symbols) >= MAX_SYMBOLS:
        return ""
    others = cards.ticks_for(exchange(), sorted(symbols)) if symbols else []
    symbols.add(symbol)
    ticks = sorted([*others, cards.tick_context(data)["tick"]], key=lambda tick: tick["symbol"])
    return _render("dashboard/_prices.html", {"ticks": ticks}, oob=True)


def trade_executed(data: dict, exchange: Exchange | None = None) -> str:
    trade = data.get("trade") or {}
    action = data.get("action", "")
    table = _render("dashboard/_trades_table.html",
                    cards.recent_trades_context(highlight=trade.get("id"), stamp=f"{trade.get('id')}:{action}",
                                                exchange=exchange), oob=True)
    toast = _render("dashboard/_toast.html", cards.toast_context(action, trade))
    return f'{table}<div hx-swap-oob="beforeend:#toasts">{toast}</div>'


def after_trade(exchange: Exchange) -> str:
    return positions(exchange) + _render("dashboard/_stats.html", cards.stats_context(), oob=True)


def balance_update(data: dict) -> str:
    return _render("dashboard/_balance.html", cards.balance_from_event(data), oob=True)


def positions(exchange: Exchange) -> str:
    return _render("dashboard/_positions.html", cards.positions_context(exchange), oob=True)


def bot_status(data: dict) -> str:
    return _render("dashboard/_status.html", cards.status_context(data), oob=True)


def _render(template: str, context: dict, *, oob: bool = False) -> str:
    return render_to_string(template, {**context, "oob": oob})
