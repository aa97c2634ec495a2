"""What one entry of a strategy will use at the current equity, shown beside the strategy form as its numbers
are typed: the notional, the margin, and whether ``max_positions`` of them fit (trades.risk.entry_budget)."""

from __future__ import annotations

import logging
from decimal import Decimal, InvalidOperation

from django.shortcuts import render
from django.views.decorators.http import require_GET

from exchange.factory import get_exchange
from market.errors import ExchangeError
from trades.risk import RiskParams, entry_budget

logger = logging.getLogger(__name__)


@require_GET
def strategy_budget(request):
    params = _params(request.GET)
    if params is None:
        return render(request, "strategies/_budget.html", {"budget": None})
    try:
        balance = get_exchange().get_balance()
    except ExchangeError as error:
        logger.warning("balance unavailable for the strategy form: %s", error)
        return render(request, "strategies/_budget.html", {"budget": None, "error": str(error)})
    budget = entry_budget(balance.equity, params) if balance.equity > 0 else None
    return render(request, "strategies/_budget.html", {"budget": budget, "leverage": params.leverage})


def _params(query) -> RiskParams | None:
    """The form's risk numbers, or None while one is missing or not a positive number (the form itself says why)."""
    try:
        values = {name: Decimal(query.get(name, "").strip()) for name in
                  ("risk_percentage", "stop_loss_percentage", "leverage")}
        max_positions = int(query.get("max_positions", "1").strip() or "1")
    except (InvalidOperation, ValueError):
        return None
    if any(not value.is_finite() or value <= 0 for value in values.values()) or max_positions < 1:
        return None
    return RiskParams(take_profit_percentage=Decimal("1"), max_positions=max_positions, **values)
