"""What an optimisation says: in-sample against out-of-sample per fold, how stable the chosen parameters are, the
stitched out-of-sample equity, and a plain warning when the out-of-sample figures collapse.

- In-sample (IS): the chosen trial on the train window it was chosen on: the best of many tries on the same candles,
  so flattering by construction. Out-of-sample (OOS): the same parameters on the test window after it, unseen.
- Profit is compared per day (the windows differ in length); Sharpe, Sortino and Calmar are annualised already.
- Stability, per parameter over the folds' choices: for numbers the coefficient of variation (standard deviation over
  the mean; "stable" at 0.25 or less), for every kind the share of folds that chose the most common value.
- The collapse warning: the mean OOS score under half the mean IS score, or negative while IS was positive (for a
  drawdown, OOS over twice IS).
"""

from __future__ import annotations

import math
from collections import Counter
from statistics import mean, pstdev

from trades.optimise.models import OptimisationFold, OptimisationRun
from trades.optimise.objectives import MAXIMIZE, Objective, per_day, resolve
from trades.optimise.trials import outcome_counts

STABLE_CV = 0.25
COLLAPSE_SHARE = 0.5


def build(run: OptimisationRun, folds: list[OptimisationFold]) -> dict:
    objectives = resolve(run.settings["objectives"])
    main = objectives[0]
    rows = [fold_row(fold, main) for fold in folds]
    summary = compare(rows, main)
    counts = outcome_counts(run.pk)
    chosen = [fold.chosen_params for fold in folds if fold.chosen_trial is not None]
    return {
        "objectives": [objective.name for objective in objectives],
        "score": score_label(main),
        "folds": rows,
        "stability": stability(chosen) if len(chosen) > 1 else [],
        "oos_curve": stitch([fold.oos_curve for fold in folds if fold.oos_curve],
                            float(run.settings["costs"]["initial_balance"])),
        "summary": summary,
        "pareto": folds[-1].pareto if folds else [],
        "trials": counts,
        "warnings": warnings(run, rows, summary, counts),
    }


def score_label(objective: Objective) -> str:
    return "return % per day" if objective.name == "profit" else objective.label


def fold_row(fold: OptimisationFold, main: Objective) -> dict:
    train_days = (fold.train_end - fold.train_start).total_seconds() / 86400
    test_days = (fold.test_end - fold.test_start).total_seconds() / 86400 if fold.test_start else 0.0
    return {
        "index": fold.index,
        "train": [fold.train_start.isoformat(), fold.train_end.isoformat()],
        "test": [fold.test_start.isoformat(), fold.test_end.isoformat()] if fold.test_start else None,
        "trial": fold.chosen_trial,
        "params": fold.chosen_params,
        "in_sample": fold.in_sample,
        "out_of_sample": fold.out_of_sample,
        "is_score": _score(fold.in_sample, main, train_days),
        "oos_score": _score(fold.out_of_sample, main, test_days),
        "note": fold.note,
    }


def compare(rows: list[dict], main: Objective) -> dict:
    pairs = [(row["is_score"], row["oos_score"]) for row in rows
             if row["is_score"] is not None and row["oos_score"] is not None]
    if not pairs:
        return {"is_mean": None, "oos_mean": None, "collapse": False, "folds_compared": 0}
    is_mean, oos_mean = round(mean(p[0] for p in pairs), 4), round(mean(p[1] for p in pairs), 4)
    return {"is_mean": is_mean, "oos_mean": oos_mean, "collapse": collapses(is_mean, oos_mean, main),
            "folds_compared": len(pairs)}


def collapses(is_value: float, oos_value: float, objective: Objective) -> bool:
    if objective.direction == MAXIMIZE:
        return is_value > 0 and (oos_value < 0 or oos_value < COLLAPSE_SHARE * is_value)
    return is_value > 0 and oos_value > is_value / COLLAPSE_SHARE


def stability(chosen: list[dict]) -> list[dict]:
    """Per parameter: the values the folds chose, the modal share and, for numbers, the coefficient of variation."""
    rows = []
    for name in chosen[0]:
        values = [params.get(name) for params in chosen]
        mode, count = Counter(map(repr, values)).most_common(1)[0]
        numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)
        cv = None
        if numeric and mean(values) != 0:
            cv = round(pstdev(values) / abs(mean(values)), 4)
        stable = cv <= STABLE_CV if cv is not None else count / len(values) >= 0.6
        rows.append({"name": name, "values": values, "modal_share": round(count / len(values), 4),
                     "cv": cv, "stable": stable})
    return rows


def stitch(curves: list[list], balance: float) -> list[list]:
    """The folds' test-window curves, one after another, each continuing from where the last ended."""
    stitched, factor = [], 1.0
    for curve in curves:
        # A test window starts where the last ended: the shared minute is kept once, with the earlier fold's value.
        stitched.extend([point[0], round(point[1] * factor, 2)] for point in curve
                        if not stitched or point[0] > stitched[-1][0])
        factor *= curve[-1][1] / balance
    return stitched


def warnings(run: OptimisationRun, rows: list[dict], summary: dict, counts: dict) -> list[str]:
    main = resolve(run.settings["objectives"])[0]
    label = score_label(main)
    found = []
    if not any(row["test"] for row in rows):
        found.append("In-sample only: these figures are the best of many tries on the same candles, so they flatter "
                     "the strategy. Run a walk-forward (walk-forward folds) before trusting them.")
    if summary["collapse"]:
        is_mean, oos_mean = summary["is_mean"], summary["oos_mean"]
        if main.direction == MAXIMIZE and oos_mean < 0 < is_mean:
            found.append(f"Out-of-sample performance collapses: the mean out-of-sample {label} is negative "
                         f"({oos_mean:g}) while in-sample it was positive ({is_mean:g}). The parameters fit the "
                         f"training windows, not the market: do not trade them as they are.")
        else:
            found.append(f"Out-of-sample performance collapses: the mean out-of-sample {label} ({oos_mean:g}) is "
                         f"{'under half' if main.direction == MAXIMIZE else 'over twice'} the in-sample one "
                         f"({is_mean:g}). The parameters fit the training windows, not the market: do not trade "
                         f"them as they are.")
    elif summary["is_mean"] is not None and main.direction == MAXIMIZE and summary["is_mean"] <= 0:
        found.append(f"Even in sample the chosen parameters score a mean {label} of {summary['is_mean']:g}: over "
                     f"this range the strategy shows no edge whatever its parameters.")
    for row in rows:
        if row["note"]:
            found.append(f"Fold {row['index'] + 1}: {row['note'].rstrip('.')}.")  # a refusal quoted ends with one
        elif row["test"] and not (row["out_of_sample"] or {}).get("trades"):
            found.append(f"Fold {row['index'] + 1} made no trade out of sample: its score says nothing.")
    done = sum(counts.values())
    if done and counts.get("pruned", 0) + counts.get("failed", 0) > done / 2:
        found.append(f"{counts.get('pruned', 0) + counts.get('failed', 0)} of {done} trials were pruned or failed "
                     f"(too few trades, or parameters the strategy refuses): the search space may be off.")
    return found


def _score(figures: dict, objective: Objective, days: float) -> float | None:
    if not figures:
        return None
    if objective.name == "profit":
        return per_day(figures, days)
    value = figures.get(objective.metric)
    return None if value is None or not math.isfinite(value) else round(float(value), 4)
