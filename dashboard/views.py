"""Pages: the dashboard and its cards (each also served alone, for the polling fallback), and the health check."""

from django.contrib.auth.decorators import login_not_required
from django.db import connection
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.templatetags.static import static
from django.views.decorators.http import require_GET

from dashboard import cards
from dashboard.live import SYMBOL
from exchange.factory import get_exchange, get_market_data
from market.intervals import INTERVAL_LABELS
from strategies.models import Strategy

# Each card's fragment and how to fill it: the page, the polling fallback and the socket share these.
CARDS = {
    "status": ("dashboard/_status.html", lambda: cards.current_status()),
    "balance": ("dashboard/_balance.html", lambda: cards.balance_context(get_exchange())),
    "positions": ("dashboard/_positions.html", lambda: cards.positions_context(get_exchange())),
    "stats": ("dashboard/_stats.html", cards.stats_context),
    "trades": ("dashboard/_trades_table.html", cards.recent_trades_context),
    "prices": ("dashboard/_prices.html", lambda: {"ticks": cards.ticks_for(get_exchange(), cards.followed_symbols())}),
}


@require_GET
def dashboard(request):
    ticks = cards.ticks_for(get_exchange(), cards.followed_symbols())
    chart = chart_choice(request.GET, [tick["symbol"] for tick in ticks])
    context = {"ticks": ticks, "chart": chart, "price_source": cards.price_source(),
               "intervals": INTERVAL_LABELS.items(), "equity_start": cards.equity_start(),
               "given": {"symbol": chart["symbol"]}}  # the order form starts on the charted symbol
    for name, (_, build) in CARDS.items():
        if name != "prices":
            context.update(build())
    return render(request, "dashboard.html", context)


@require_GET
def card(request, name):
    """One card, re-rendered: the page polls these slowly in case its socket dropped an event."""
    try:
        template, build = CARDS[name]
    except KeyError:
        raise Http404(f"no card {name!r}") from None
    return render(request, template, build())


def chart_choice(query, symbols: list[str]) -> dict:
    """Which symbol and timeframe the price chart opens on: the query's, else the first followed symbol on
    the timeframe (and indicator periods) of an active strategy that trades it."""
    symbol = query.get("symbol", "").upper()
    if not SYMBOL.match(symbol):
        symbol = symbols[0] if symbols else cards.DEFAULT_SYMBOL
    strategy = next((s for s in Strategy.objects.filter(is_active=True) if symbol in s.symbols), None)
    interval = query.get("interval", "")
    if interval not in INTERVAL_LABELS:
        interval = strategy.timeframe if strategy else "5"
    return {"symbol": symbol, "interval": interval, "strategy": strategy,
            "symbols": sorted({*symbols, symbol, *_replay_symbols()})}


def _replay_symbols() -> list[str]:
    from django.conf import settings

    if settings.EXCHANGE_MODE != "paper" or settings.MARKET_DATA != "replay":
        return []
    return get_market_data().symbols


@login_not_required
@require_GET
def healthz(request):
    """Liveness for load balancers and docker compose: says nothing but whether the database answers."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return JsonResponse({"status": "ok"})
    except Exception:  # noqa: BLE001
        return JsonResponse({"status": "database unavailable"}, status=503)


@login_not_required
@require_GET
def favicon(request):
    """Browsers ask for /favicon.ico whatever the page says; a 404 for each would be a logged warning."""
    return redirect(static("favicon.svg"), permanent=True)
