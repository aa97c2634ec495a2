"""Strategy pages: the list with each strategy's last decision per symbol, create / edit, on / off.

Switching a strategy on or off and saving it go through the same model rules as the API and the
admin; the list says so when a strategy needs AI confirmation and no key is configured.
"""

from __future__ import annotations

import logging
from collections import defaultdict

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from ai.service import ai_unavailable_reason
from strategies.forms import StrategyForm
from strategies.models import Strategy
from strategies.services import set_active
from trades.queries import latest_decisions

logger = logging.getLogger(__name__)


@require_GET
def strategy_list(request):
    strategies = list(Strategy.objects.all())
    decisions = defaultdict(list)
    for decision in latest_decisions():
        decisions[decision.strategy_id].append(decision)
    return render(request, "strategies/list.html", {
        "cards": [_card(strategy, decisions[strategy.pk]) for strategy in strategies],
        "ai_reason": ai_unavailable_reason(),
    })


@require_GET
def strategy_decisions(request, pk):
    """The decisions table of one strategy, polled by its card."""
    strategy = get_object_or_404(Strategy, pk=pk)
    return render(request, "strategies/_decisions.html", _card(strategy, latest_decisions([strategy.pk])))


@require_http_methods(["GET", "POST"])
def strategy_create(request):
    return _edit(request, Strategy())


@require_http_methods(["GET", "POST"])
def strategy_edit(request, pk):
    return _edit(request, get_object_or_404(Strategy, pk=pk))


def _edit(request, strategy: Strategy):
    creating = strategy.pk is None
    form = StrategyForm(request.POST or None, instance=strategy)
    if request.method == "POST" and form.is_valid():
        strategy = form.save()
        logger.info("strategy %s", "created" if creating else "updated",
                    extra={"strategy": strategy.name, "user": request.user.get_username()})
        messages.success(request, f"Strategy \u201c{strategy.name}\u201d {'created' if creating else 'saved'}"
                                  f"{'' if strategy.is_active else '; activate it to trade'}.")
        return redirect("strategy-page")
    return render(request, "strategies/form.html", {"form": form, "creating": creating, "strategy": strategy,
                                                    "ai_reason": ai_unavailable_reason()})


@require_POST
def strategy_switch(request, pk, active: bool):
    strategy = get_object_or_404(Strategy, pk=pk)
    set_active(strategy, active, by=request.user.get_username())
    if request.htmx:
        context = _card(strategy, latest_decisions([strategy.pk]))
        return render(request, "strategies/_card.html", {**context, "ai_reason": ai_unavailable_reason()})
    messages.success(request, f"Strategy \u201c{strategy.name}\u201d {'activated' if active else 'deactivated'}.")
    return redirect("strategy-page")


def _card(strategy: Strategy, decisions: list) -> dict:
    return {"strategy": strategy, "decisions": decisions}
