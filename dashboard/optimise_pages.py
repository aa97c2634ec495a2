"""The Optimise pages (linked from Backtests): launch and list studies, one study's progress (live over the socket),
its in-sample / out-of-sample table, parameter stability, stitched out-of-sample equity, and Apply."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core.errors import Refused
from core.security import refuse_page
from dashboard.launch_forms import handle_launch
from strategies.models import Strategy
from trades.backtest import costs
from trades.optimise import objectives, study
from trades.optimise.commands import apply_parameters, apply_refusal, launch_refusal, launch_study
from trades.optimise.models import OptimisationRun
from trades.optimise.report import fold_row, score_label
from trades.optimise.serializers import OptimiseLaunchSerializer
from trades.optimise.trials import best_so_far

RUNS_LISTED = 50


@require_http_methods(["GET", "POST"])
def optimise_list(request):
    def launch(form):
        run = launch_study(request.user, form.request())
        messages.success(request, f"Optimisation #{run.pk} launched: {run.name}, {run.trials_total} trials.")
        if run.settings.get("note"):
            messages.warning(request, run.settings["note"])
        return redirect(run)

    posted = handle_launch(request, refusal=launch_refusal, serializer=OptimiseLaunchSerializer, launch=launch)
    if posted.response is not None:
        return posted.response
    errors, values = posted.errors, posted.values
    runs = OptimisationRun.objects.defer("results", "settings")[:RUNS_LISTED]
    context = {"runs": runs, "strategies": Strategy.objects.order_by("name"), "errors": errors, "values": values,
               "samplers": study.SAMPLERS, "objectives": objectives.CHOICES,
               "defaults": costs.FORM_DEFAULTS}
    return render(request, "optimise/list.html", context, status=400 if errors else 200)


@require_GET
def optimise_detail(request, pk: int):
    run = get_object_or_404(OptimisationRun, pk=pk)
    return render(request, "optimise/detail.html", _context(run))


@require_GET
def optimise_live(request, pk: int):
    """The part of a running study's page that changes: progress, best so far, the folds done."""
    run = get_object_or_404(OptimisationRun, pk=pk)
    return render(request, "optimise/_live.html", _context(run))


@require_POST
def optimise_apply(request, pk: int):
    refusal = apply_refusal(request.user)
    if refusal:
        return refuse_page(request, refusal)
    try:
        fold = request.POST.get("fold", "")
        strategy = apply_parameters(request.user, pk, int(request.POST.get("trial", "")),
                                    int(fold) - 1 if fold else None)
    except ValueError:
        messages.error(request, "Pick a trial to apply.")
        return redirect("backtest-optimise-detail", pk=pk)
    except Refused as refused:
        if refused.status == 403:
            return refuse_page(request, refused.message)
        messages.error(request, refused.message)
        return redirect("backtest-optimise-detail", pk=pk)
    messages.success(request, f"Strategy {strategy.name!r} made, inactive, from optimisation #{pk}; "
                              f"{strategy.derived_from.name!r} is kept as it was.")
    return redirect("strategy-page")


def _context(run: OptimisationRun) -> dict:
    results = run.results or {}
    folds = list(run.folds.order_by("index"))
    main = objectives.OBJECTIVES[run.objectives[0]] if run.objectives else None
    running = next((fold for fold in folds if fold.status == "running"), None)
    rows = [dict(row, train_text=_span(row["train"]), test_text=_span(row["test"]))
            for row in results.get("folds") or _rows_so_far(folds, main)]
    walk_forward = len(folds) > 1 or any(fold.test_start for fold in folds)
    curve = results.get("oos_curve") or []
    balance = float(run.settings.get("costs", {}).get("initial_balance", "0") or 0)
    return {"run": run, "results": results, "rows": rows, "folds": folds, "walk_forward": walk_forward,
            "score": score_label(main) if main else "", "best": best_so_far(run, running) if running else None,
            "running_fold": running, "curve": curve,
            "stitched_return": round((curve[-1][1] / balance - 1) * 100, 4) if curve and balance else None,
            "applied": run.applied.select_related("applied_by")[:20]}


def _span(pair: list | None) -> str:
    return f"{pair[0][:16].replace('T', ' ')} → {pair[1][:16].replace('T', ' ')}" if pair else ""


def _rows_so_far(folds, main) -> list[dict]:
    """While the run goes on: the folds that have ended, as the report will show them."""
    return [fold_row(fold, main) for fold in folds if fold.status == "done"]
