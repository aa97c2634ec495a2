"""Strategy pages: the list with each strategy's last decision per symbol, create / edit, on / off.

The list opens with the strategy files that did not load (``strategies.catalogue``), and a card whose class is
missing says so; the form's parameter inputs follow the chosen class (``strategy_parameters`` re-renders them
when the type changes).

Switching a strategy on or off and saving it go through the same model rules as the API and the
admin; the list says so when a strategy needs AI confirmation and no key is configured. Anyone signed in
reads these pages; writes need the API's permissions (``core.security``): add or change strategy, and
for anything that leaves a strategy active, the right to let it trade (``strategies.services.change_refusal``).
"""

from __future__ import annotations

import logging
from collections import defaultdict

from django.contrib import messages
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from ai.service import ai_unavailable_reason
from core.errors import Forbidden, NotFound
from core.security import permission_refusal, refuse_page, strategy_trading_refusal
from strategies import catalogue, services
from strategies.forms import StrategyForm
from strategies.models import Strategy
from strategies.services import change_refusal
from trades.cycle import missing_class
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
        "load_problems": catalogue.refresh().problems,  # a file just saved shows its problem at once
    })


@require_GET
def strategy_parameters(request):
    """The form's parameter inputs for the class in ``?type=`` (htmx, when the type select changes); an edited
    strategy's saved values (``?strategy=``) fill them when it is of that class."""
    strategy = Strategy()
    if request.GET.get("strategy", "").isdigit():
        strategy = get_object_or_404(Strategy, pk=int(request.GET["strategy"]))
    form = StrategyForm(instance=strategy, initial={"type": request.GET.get("type") or strategy.type})
    return render(request, "strategies/_parameters.html", {"form": form})


@require_GET
def strategy_decisions(request, pk):
    """The decisions table of one strategy, polled by its card."""
    strategy = get_object_or_404(Strategy, pk=pk)
    return render(request, "strategies/_decisions.html", _card(strategy, latest_decisions([strategy.pk])))


@require_http_methods(["GET", "POST"])
def strategy_create(request):
    refusal = request.method == "POST" and permission_refusal(request.user, "strategies.add_strategy")
    return refuse_page(request, refusal) if refusal else _edit(request, Strategy())


@require_http_methods(["GET", "POST"])
def strategy_edit(request, pk):
    refusal = request.method == "POST" and permission_refusal(request.user, "strategies.change_strategy")
    return refuse_page(request, refusal) if refusal else _edit(request, get_object_or_404(Strategy, pk=pk))


def _edit(request, strategy: Strategy):
    creating = strategy.pk is None
    form = StrategyForm(request.POST or None, instance=strategy)
    # The form has no on/off switch: only editing an active strategy changes what trades.
    refusal = request.method == "POST" and change_refusal(request.user, active_after=strategy.is_active)
    if refusal:
        form.is_valid()  # the typed values come back with the reason, nothing saved
        form.add_error(None, refusal)
        return render(request, "strategies/form.html", {"form": form, "creating": creating, "strategy": strategy,
                                                        "ai_reason": ai_unavailable_reason()}, status=403)
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
    try:
        strategy = services.switch(request.user, pk, active)
    except Forbidden as refusal:  # a missing permission answers 403 even for a missing strategy
        strategy = Strategy.objects.filter(pk=pk).first()
        if strategy is None:
            return refuse_page(request, refusal.message)
        context = {**_card(strategy, latest_decisions([strategy.pk])), "card_error": refusal.message,
                   "ai_reason": ai_unavailable_reason()}
        return refuse_page(request, refusal.message, "strategies/_card.html", context)
    except NotFound as missing:
        raise Http404(missing.message) from None
    if request.htmx:
        context = _card(strategy, latest_decisions([strategy.pk]))
        return render(request, "strategies/_card.html", {**context, "ai_reason": ai_unavailable_reason()})
    messages.success(request, f"Strategy \u201c{strategy.name}\u201d {'activated' if active else 'deactivated'}.")
    return redirect("strategy-page")


def _card(strategy: Strategy, decisions: list) -> dict:
    # An active strategy whose activator may no longer trade holds every signal: say so before a signal comes.
    holding = strategy_trading_refusal(strategy) if strategy.is_active else None
    missing = missing_class(strategy.type) if catalogue.strategy_class(strategy.type) is None else ""
    return {"strategy": strategy, "decisions": decisions, "holding": holding, "missing_class": missing}
