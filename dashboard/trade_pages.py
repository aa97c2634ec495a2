"""The Trades page: the whole history, filtered and paginated, with close / cancel for live trades.

Filters go through the API's own ``TradeFilterSet``, so the page and ``GET /api/trades`` accept and refuse
the same things; the changes go through ``trades.commands``, as the API's do.
"""

from __future__ import annotations

import logging
from urllib.parse import urlencode

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from core.errors import Forbidden, NotFound, Refused, TooMany
from core.security import refuse_page
from exchange.factory import get_exchange
from market.errors import ExchangeError
from strategies.models import Strategy
from trades import commands, queries
from trades.filters import TradeFilterSet
from trades.models import Trade, TradeStatus

logger = logging.getLogger(__name__)

PAGE_SIZE = 50  # the API's page size too
FILTERS = tuple(TradeFilterSet.base_filters)  # symbol, status, strategy, since, until


@require_GET
def trade_list(request):
    given = {name: request.GET[name].strip() for name in FILTERS if request.GET.get(name, "").strip()}
    if "symbol" in given:
        given["symbol"] = given["symbol"].upper()
    filters = TradeFilterSet(given, Trade.objects.select_related("strategy"))
    trades = filters.qs if filters.is_valid() else Trade.objects.none()
    page = Paginator(trades, PAGE_SIZE).get_page(request.GET.get("page"))
    page.object_list = queries.with_unrealized(page.object_list, get_exchange())
    context = {
        "page": page, "filters": given, "errors": filters.errors, "query": urlencode(given),
        "statuses": TradeStatus.choices, "strategies": Strategy.objects.order_by("name").only("id", "name"),
        "symbols": Trade.objects.order_by("symbol").values_list("symbol", flat=True).distinct(),
    }
    if request.htmx and request.htmx.target == "trades-table":
        return render(request, "trades/_table.html", context)
    return render(request, "trades/list.html", context)


@require_POST
def close_trade(request, pk):
    return _act(request, pk, "close",
                lambda: commands.close_trade(request.user, pk, exchange=get_exchange()).detail)


@require_POST
def cancel_trade(request, pk):
    return _act(request, pk, "cancel",
                lambda: commands.cancel_trade(request.user, pk, exchange=get_exchange()) and "cancelled")


def _act(request, pk, verb: str, action):
    """Run the command; a refusal of the person (permission, switch, rate limit) answers like the API's, before
    the trade's 404; one about the trade or the exchange shows on its row."""
    error = ""
    try:
        detail = action()
    except (Forbidden, TooMany) as refusal:
        trade = Trade.objects.select_related("strategy").filter(pk=pk).first()
        response = refuse_page(request, refusal.message, "trades/_row.html" if trade else None,
                               {"trade": trade, "row_error": refusal.message})
        if isinstance(refusal, TooMany):
            response.status_code, response["Retry-After"] = refusal.status, str(refusal.retry_after)
        return response
    except NotFound:
        raise Http404(f"There is no trade {pk}.") from None
    except (Refused, ExchangeError) as problem:
        error = str(problem)
    else:
        logger.info("trade %s from the dashboard: %s", verb, detail,
                    extra={"trade": pk, "user": request.user.get_username()})
    trade = get_object_or_404(Trade.objects.select_related("strategy"), pk=pk)
    if request.htmx:
        return render(request, "trades/_row.html", {"trade": trade, "row_error": error})
    if error:
        messages.error(request, error)
    else:
        messages.success(request, f"Trade {trade.pk}: {verb} done ({trade.get_status_display().lower()}).")
    return redirect("trade-page")
