"""What a trial is scored by: a backtest metric and its direction, combined over the symbols a run trades.

- ``sharpe``, ``sortino``: annualised, from the report (higher is better);
- ``calmar``: CAGR over the max drawdown (higher is better);
- ``profit``: total return in percent (higher is better);
- ``drawdown``: max drawdown in percent (lower is better);
- ``profit_dd``: both of the last two, a multi-objective study whose answer is a Pareto front.

With several symbols each trial backtests every one of them separately with the same parameters (each on its own
balance); the objective sums the profits, averages the ratios and takes the worst drawdown. A trial with fewer
trades than ``min_trades`` (all symbols together), or without the figure (a Sharpe of a flat curve), is pruned with
the reason: it tells the sampler that corner is bad, and it never becomes "the best".
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal
from statistics import mean

from core.errors import Invalid

MAXIMIZE, MINIMIZE = "maximize", "minimize"


@dataclass(frozen=True)
class Objective:
    name: str
    metric: str  # the report's key
    direction: str
    label: str
    combine: str  # sum, mean or max over symbols

    def better(self, a: float, b: float) -> bool:
        return a > b if self.direction == MAXIMIZE else a < b


OBJECTIVES = {
    "sharpe": Objective("sharpe", "sharpe", MAXIMIZE, "Sharpe", "mean"),
    "sortino": Objective("sortino", "sortino", MAXIMIZE, "Sortino", "mean"),
    "calmar": Objective("calmar", "calmar", MAXIMIZE, "Calmar", "mean"),
    "profit": Objective("profit", "total_return_pct", MAXIMIZE, "return %", "sum"),
    "drawdown": Objective("drawdown", "max_drawdown_pct", MINIMIZE, "max drawdown %", "max"),
}
PAIRS = {"profit_dd": ("profit", "drawdown")}
CHOICES = (*OBJECTIVES, *PAIRS)
# Kept for each trial and fold beside the objectives: what the tables show.
SHOWN = ("total_return_pct", "max_drawdown_pct", "sharpe", "sortino", "calmar", "trades", "win_rate_pct",
         "profit_factor")


def resolve(names: list[str]) -> list[Objective]:
    """``["profit_dd"]`` -> [profit, drawdown]; ``["sharpe"]`` -> [sharpe]. Raises Invalid on an unknown name or a
    repeat."""
    expanded = []
    for name in names or ["sharpe"]:
        if name not in CHOICES:
            raise Invalid(f"Unknown objective {name!r}; choose from {', '.join(CHOICES)}.", field="objectives")
        expanded.extend(PAIRS.get(name, (name,)))
    if len(set(expanded)) != len(expanded):
        raise Invalid(f"An objective is named twice in {', '.join(names)}.", field="objectives")
    if len(expanded) > 3:
        raise Invalid("At most three objectives at once.", field="objectives")
    return [OBJECTIVES[name] for name in expanded]


def combined(per_symbol: list[dict]) -> dict:
    """The figures of one parameter set over several symbols' reports (``SHOWN`` keys; None where one is missing)."""
    def values(key):
        found = [_number(metrics.get(key)) for metrics in per_symbol]
        return None if any(value is None for value in found) else found

    result = {}
    for key, how in (("total_return_pct", sum), ("max_drawdown_pct", max), ("sharpe", mean), ("sortino", mean),
                     ("calmar", mean), ("win_rate_pct", mean), ("profit_factor", mean)):
        found = values(key)
        result[key] = None if not found else round(how(found), 4)
    result["trades"] = sum(int(metrics.get("trades") or 0) for metrics in per_symbol)
    return result


def score(objectives: list[Objective], figures: dict, *, min_trades: int) -> tuple[list[float] | None, str]:
    """(the values to tell Optuna, "") or (None, why the trial is pruned)."""
    if figures["trades"] < min_trades:
        return None, f"{figures['trades']} trade(s), fewer than the minimum of {min_trades}"
    values = []
    for objective in objectives:
        value = figures.get(objective.metric)
        if value is None or not math.isfinite(value):
            return None, f"no {objective.label} (too few candles or a flat equity curve)"
        values.append(float(value))
    return values, ""


def per_day(figures: dict, days: float) -> float | None:
    """Return per day, in percent: how profit is compared between windows of different lengths."""
    value = figures.get("total_return_pct")
    return None if value is None or days <= 0 else round(float(value) / days, 4)


def _number(value) -> float | None:
    if value is None:
        return None
    number = float(Decimal(str(value))) if isinstance(value, str) else float(value)
    return number if math.isfinite(number) else None
