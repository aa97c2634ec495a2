"""The dashboard's order form: a manual order from the page, through exactly what ``POST /api/bybit/order`` runs
(the same serializer, the same guards: live trading switch, max order notional; the same service and the same
words for what the exchange did not do)."""

from __future__ import annotations

import logging

from django.shortcuts import render
from django.views.decorators.http import require_POST

from core.errors import Refused
from core.security import TRADE_ORDERS, live_trading_refusal, permission_refusal
from dashboard.bybit_serializers import PlaceOrderSerializer
from exchange.factory import get_exchange
from market.errors import ExchangeError
from trades import commands

logger = logging.getLogger(__name__)

FIELDS = ("symbol", "side", "qty", "order_type", "price", "stop_loss", "take_profit")


@require_POST
def place_order(request):
    given = {name: request.POST[name].strip() for name in FIELDS if request.POST.get(name, "").strip()}
    given["symbol"] = given.get("symbol", "").upper()
    context = {"given": given, "errors": {}, "error": "", "done": ""}
    # The person first (as the API's permission classes answer before the body): no form errors for who may not.
    refusal = permission_refusal(request.user, TRADE_ORDERS) or live_trading_refusal(request.user)
    if refusal:
        context["error"] = refusal
        return _refused(request, context, status=403)
    exchange = get_exchange()
    serializer = PlaceOrderSerializer(data=given, context={"exchange": exchange, "request": request})
    try:
        if not serializer.is_valid():
            context["errors"] = serializer.errors
            return _refused(request, context, status=400)
        order, result = commands.place_order(request.user, PlaceOrderSerializer.to_request(serializer.validated_data),
                                             exchange=exchange)
    except Refused as problem:
        if problem.field:
            context["errors"] = {problem.field: [problem.message]}
            return _refused(request, context, status=problem.status)
        context["error"] = problem.message
        if problem.status in (403, 429):
            return _refused(request, context, status=problem.status)
    except ExchangeError as problem:
        context["error"] = str(problem)
    else:
        logger.info("manual order from the dashboard: %s", order.status,
                    extra={"symbol": order.symbol, "order_link_id": order.order_link_id,
                           "user": request.user.get_username()})
        context["error"] = commands.order_problem(order, result) or ""
        if not context["error"]:
            context["done"] = (f"{order.side} {order.qty} {order.symbol}: {order.status}"
                               + (f" at {order.avg_price}" if order.avg_price else "") + ".")
            context["given"] = {"symbol": order.symbol, "side": str(order.side)}
    return render(request, "dashboard/_order.html", context)


def _refused(request, context: dict, *, status: int):
    """The form again, saying what is wrong; marked X-Refusal so that htmx swaps it in although it is a 4xx."""
    response = render(request, "dashboard/_order.html", context, status=status)
    response["X-Refusal"] = "1"
    return response
