"""A parameter sweep: every combination of a few settings, backtested in parallel processes, ranked.

``parse_grid(["ema_short=5,9,13", "ema_long=21,34"], "trend_following")`` gives the axes: any parameter the
strategy's class declares, or a risk setting; ``combinations`` the cells (a cell the class's own validation
refuses, such as ema_short >= ema_long or a value out of its range, is listed with the reason and not run);
``run_grid`` loads the candles once and runs the cells on a process pool (forked workers inherit the candles,
so nothing large is pickled). Workers do not touch the database.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from multiprocessing import get_context

from django.core.exceptions import ValidationError

from strategies.catalogue import strategy_class
from strategies.sdk.parameters import BooleanParameter, CategoricalParameter, Parameter
from trades.backtest.data import CandleData
from trades.backtest.inputs import RISK_FIELDS, StrategySpec
from trades.backtest.runner import RunSettings, complete, prepare

RANKINGS = ("total_return_pct", "sharpe", "sortino", "profit_factor", "win_rate_pct", "max_drawdown_pct")


@dataclass(frozen=True)
class Cell:
    values: dict  # the swept settings of this cell
    spec: StrategySpec | None
    error: str = ""


@dataclass(frozen=True)
class CellResult:
    values: dict
    metrics: dict | None
    error: str = ""


def declared(strategy_type: str) -> dict[str, Parameter]:
    """The parameters the class ``strategy_type`` declares (none for a class that is not loaded)."""
    cls = strategy_class(strategy_type)
    return cls.declared_parameters() if cls else {}


def parse_grid(items: list[str], strategy_type: str = "trend_following") -> dict[str, list]:
    """The axes of a sweep: ``setting=value,value,...`` with a setting among the class's declared parameters and
    the risk settings. Values are read as the parameter's kind (numbers; true/false; a choice); whether they are
    in range is the class's to say, cell by cell."""
    parameters = declared(strategy_type)
    settings = (*parameters, *RISK_FIELDS)
    axes: dict[str, list] = {}
    for item in items:
        key, _, raw = item.partition("=")
        key = key.strip()
        if not raw or key not in settings:
            raise ValidationError(f"--grid {item!r}: write setting=value,value,... with a setting among "
                                  f"{', '.join(settings)}")
        texts = [value.strip() for value in raw.split(",") if value.strip()]
        axes[key] = [parse_value(parameters.get(key), text, f"--grid {item!r}") for text in texts]
    return axes


def parse_value(parameter: Parameter | None, text: str, where: str):
    """``text`` as a value of ``parameter`` (None: a risk setting); ``where`` names the flag in an error."""
    if isinstance(parameter, BooleanParameter):
        return {"true": True, "false": False}.get(text.lower(), text)
    if isinstance(parameter, CategoricalParameter):
        return next((choice for choice in parameter.choices if str(choice) == text), text)
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise ValidationError(f"{where}: values must be numbers") from None
    if parameter is None:  # a risk setting: a Decimal, as the Strategy stores it
        return number
    return int(number) if number == number.to_integral_value() else float(number)


def combinations(spec: StrategySpec, axes: dict[str, list]) -> list[Cell]:
    cells = []
    for picked in itertools.product(*axes.values()):
        values = dict(zip(axes, picked, strict=True))
        parameters = {key: value for key, value in values.items() if key not in RISK_FIELDS}
        risk = {key: Decimal(value) for key, value in values.items() if key in RISK_FIELDS}
        try:
            cell = spec.with_indicators(**parameters) if parameters else spec
            cell = cell.with_risk(**risk) if risk else cell
            cells.append(Cell({key: str(value) for key, value in values.items()}, cell))
        except ValidationError as error:
            cells.append(Cell({key: str(value) for key, value in values.items()}, None, " ".join(error.messages)))
    return cells


_DATA: CandleData | None = None  # set in the parent before forking; each worker reads its copy


def _run_cell(spec: StrategySpec, run: RunSettings) -> dict:
    outcome = complete(prepare(spec, run, data=_DATA))
    return outcome.report.metrics


def run_grid(cells: list[Cell], run: RunSettings, data: CandleData, *, workers: int | None = None,
             on_done: Callable[[int, int], None] | None = None) -> list[CellResult]:
    global _DATA
    _DATA = data
    results: list[CellResult] = [CellResult(cell.values, None, cell.error) for cell in cells if cell.spec is None]
    runnable = [cell for cell in cells if cell.spec is not None]
    workers = max(1, min(workers or os.cpu_count() or 1, len(runnable) or 1))
    with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("fork")) as pool:
        futures = {pool.submit(_run_cell, cell.spec, run): cell for cell in runnable}
        for done, future in enumerate(as_completed(futures), start=1):
            cell = futures[future]
            try:
                results.append(CellResult(cell.values, future.result()))
            except Exception as error:  # noqa: BLE001 - one bad cell must not sink the sweep
                results.append(CellResult(cell.values, None, f"{type(error).__name__}: {error}"))
            if on_done is not None:
                on_done(done, len(runnable))
    return results


def ranked(results: list[CellResult], by: str = "total_return_pct") -> list[CellResult]:
    """Best first by ``by`` (lowest first for drawdown); cells without a figure, then failures, last."""
    lower_is_better = by == "max_drawdown_pct"

    def key(result: CellResult):
        value = (result.metrics or {}).get(by)
        if value is None:
            return (1 if result.metrics else 2, 0.0)
        number = float(value)
        return (0, number if lower_is_better else -number)

    return sorted(results, key=key)
