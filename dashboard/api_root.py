"""``/api/``: DRF's browsable root, listing the endpoints a script starts from (a login or a token, as every
endpoint needs; the full reference is ``/api/docs/``)."""

from rest_framework.routers import APIRootView

ENDPOINTS = {
    "balance": "bybit-balance",
    "positions": "bybit-positions",
    "open orders": "bybit-orders",
    "order history": "bybit-history",
    "place an order": "bybit-order",
    "leverage": "bybit-leverage",
    "stop-loss / take-profit": "bybit-stop-loss",
    "close a position": "bybit-close-position",
    "follow a symbol's price": "bybit-subscribe",
    "strategies": "strategy-list",
    "trades": "trade-list",
    "trade statistics": "trade-stats",
    "latest decisions": "trade-decisions",
    "backtests": "backtest-list",
    "optimisations": "optimise-list",
    "equity chart": "chart-equity",
    "bot status": "bot-status",
    "stop / allow new entries": "bot-entries",
    "OpenAPI schema": "schema",
    "API docs": "api-docs",
}


class ApiRoot(APIRootView):
    """The tradebot API: each endpoint's address. Per-symbol and per-object endpoints (klines, one trade, one
    strategy...) are in the API docs."""

    api_root_dict = ENDPOINTS
