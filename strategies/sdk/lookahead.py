"""Does a strategy read the future, and is its warm-up long enough? Checked by running it, not by reading it.

**Look-ahead.** The strategy runs on the whole frame, then on the same frame cut short at ``cuts`` points spread
over the part after its warm-up. A candle's signals (``enter_long`` ... and the tags) and indicator columns must be
the same whether or not the candles after it exist: the live cycle never has them. A difference means the strategy
used candles that had not closed yet (``shift(-1)``, a centred window, normalising over the whole series ...), so its
backtests look better than its live trading will. The informative frames are cut at the same moment (only their
candles closed by then), so a higher timeframe cannot smuggle the future in either.

**Warm-up.** The strategy runs on the frame with its first k candles dropped (a few k). From its
``startup_candle_count``-th candle on, every indicator column it added must match the full run's (relative
tolerance ``WARMUP_TOLERANCE``): a candle's indicators may not depend on how much older history there was beyond
the warm-up. An indicator that still moves means ``startup_candle_count`` is too small: the live cycle, which fetches
only that many candles, would see other values than the backtest. The report estimates how many candles it needs.

Pure: no Django, no I/O. The caller supplies the candles (``strategies.checks`` reads the bundled replay data).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from market.intervals import interval_delta
from strategies.sdk.base import IStrategy, bybit_interval
from strategies.sdk.kernel import StrategyError, populate

SIGNAL_COLUMNS = ("enter_long", "enter_short", "exit_long", "exit_short")
TAG_COLUMNS = ("enter_tag", "exit_tag")
CANDLE_COLUMNS = ("open", "high", "low", "close", "volume")
DEFAULT_CUTS = 20
# Two runs of the same arithmetic on the same candles agree far closer than this; a look-ahead differs by more.
LOOKAHEAD_TOLERANCE = 1e-9
# An indicator within 0.01 % of its fully warmed-up value gives the same signals for any practical threshold;
# recursive indicators (EMA, Wilder's RSI) only reach 1e-9 after several hundred candles, which no strategy waits.
WARMUP_TOLERANCE = 1e-4
# Warm-up runs need this many candles after the warm-up to compare, or the warm-up part is not checked.
MIN_COMPARED_CANDLES = 50
SHOWN_DIFFERENCES = 5


@dataclass(frozen=True)
class Difference:
    """The first candle on which ``column`` differed between the full run and one that lacked some candles."""

    column: str
    time: pd.Timestamp
    full_value: object
    other_value: object

    def describe(self, other: str) -> str:
        return (f"'{self.column}' on the candle of {self.time:%Y-%m-%d %H:%M} UTC was {_show(self.full_value)} "
                f"with the later candles available and {_show(self.other_value)} {other}")


MISSING, SIGNALS, DRIFT = "missing", "signals", "drift"


@dataclass(frozen=True)
class WarmupProblem:
    """``column`` still depends on history older than ``startup`` candles. ``kind``: MISSING (no value yet where the
    full run has one: a window longer than the warm-up), SIGNALS (a signal column changed) or DRIFT (an indicator
    still settling while the signals stayed the same: a warning, not a failure). ``needed`` estimates the warm-up
    it needs (None: it never settled in the candles checked)."""

    column: str
    kind: str
    startup: int
    needed: int | None
    worst: float  # the largest difference after the warm-up, relative to the column's typical size (inf: missing)
    first: Difference

    @property
    def fails(self) -> bool:
        return self.kind != DRIFT

    def describe(self) -> str:
        if self.needed:
            growth = f"set startup_candle_count to at least {self.needed} (now {self.startup}, {self._grow()})"
        else:
            growth = ("it never settled in the candles checked: it depends on the whole history (a running total, an "
                      "all-time high ...), which the live cycle does not have")
        if self.kind == MISSING:
            return f"'{self.column}' has no value yet after {self.startup} start-up candles; {growth}"
        if self.kind == SIGNALS:
            return (f"'{self.column}' changes with more history after {self.startup} start-up candles: "
                    f"{self.first.describe('without the oldest ones')}; {growth}")
        settle = (f"about {self.needed} start-up candles would settle it within {WARMUP_TOLERANCE:.2%}" if self.needed
                  else "it never settled in the candles checked")
        return (f"'{self.column}' is still settling after {self.startup} start-up candles (by up to "
                f"{self.worst:.3%} of its typical size); {settle}")

    def _grow(self) -> str:
        return f"{self.needed - self.startup} more" if self.needed and self.needed > self.startup else "no more"


@dataclass(frozen=True)
class CheckReport:
    key: str
    candles: int
    cuts: int = 0
    startup: int = 0
    lookahead: tuple[Difference, ...] = ()
    warmup: tuple[WarmupProblem, ...] = ()  # the failures (MISSING, SIGNALS)
    settling: tuple[WarmupProblem, ...] = ()  # the warnings (DRIFT)
    warmup_checked: bool = True
    error: str = ""
    notes: tuple[str, ...] = field(default=())

    @property
    def passed(self) -> bool:
        return not (self.error or self.lookahead or self.warmup)

    @property
    def lookahead_columns(self) -> list[str]:
        return [difference.column for difference in self.lookahead]

    @property
    def warmup_columns(self) -> list[str]:
        return [problem.column for problem in self.warmup]

    def summary(self) -> str:
        """One sentence: passed, or what failed."""
        if self.error:
            return f"{self.key} could not be checked: {self.error}"
        if self.passed:
            warmup = (f"after its {self.startup} start-up candles its signals no longer depend on older history"
                      if self.warmup_checked
                      else "its warm-up was not checked (too few candles)")
            return (f"{self.key} passed: its signals on {self.candles} candles did not change when the later candles "
                    f"were removed ({self.cuts} cuts), and {warmup}.")
        failed = []
        if self.lookahead:
            failed.append(f"it looks into the future ({', '.join(self.lookahead_columns)})")
        if self.warmup:
            failed.append(f"its warm-up is too short ({', '.join(self.warmup_columns)})")
        return f"{self.key} failed the check: {' and '.join(failed)}."

    def lines(self) -> list[str]:
        """The summary, then one line per finding, in words a trader reads."""
        lines = [self.summary()]
        if self.lookahead:
            lines.append("It uses candles that had not closed yet (shift(-1), a centred window, normalising over the "
                         "whole series ...): its backtests would look better than its live trading. First "
                         "differences:")
            lines.extend(f"  - {d.describe('without them')}" for d in self.lookahead[:SHOWN_DIFFERENCES])
        if self.warmup:
            lines.append("Its indicators need more history than startup_candle_count gives them: live, with only "
                         "that many candles, they would differ from the backtest's.")
            lines.extend(f"  - {problem.describe()}" for problem in self.warmup[:SHOWN_DIFFERENCES])
        if self.settling and any(problem.kind == SIGNALS for problem in self.warmup):
            lines.append("The indicators that still depend on older history, the likely cause:")
        elif self.settling:
            lines.append("Worth knowing (not a failure): indicators whose values still depend a little on older "
                         "history, though the signals did not change; a backtest's first candles can differ slightly "
                         "from live.")
        lines.extend(f"  - {problem.describe()}" for problem in self.settling[:SHOWN_DIFFERENCES])
        lines.extend(self.notes)
        return lines

    def text(self) -> str:
        return "\n".join(self.lines())


def check(cls: type[IStrategy], parameters: dict | None, frame: pd.DataFrame, *,
          informative: dict[str, pd.DataFrame] | None = None, pair: str = "", cuts: int = DEFAULT_CUTS,
          drops: tuple[int, ...] | None = None) -> CheckReport:
    """Run ``cls`` with ``parameters`` on ``frame`` (closed candles of its timeframe) and the ``informative`` frames
    (by the class's spelling of each timeframe), and report look-ahead and a too-short warm-up."""
    try:
        runner = _Runner(cls, parameters, frame, informative or {}, pair)
        full = runner.run(len(frame))
        startup = runner.startup
        ends = _cut_points(len(frame), startup, cuts)
        scales = {column: _scale(full[column]) for column in full.columns}
        lookahead = _first_per_column(
            difference for end in ends for difference in _compare_prefix(full, runner.run(end), end, scales))
        drops = _drops(len(frame), startup) if drops is None else drops
        problems = _warmup_problems(full, runner, drops, startup)
    except StrategyError as error:
        return CheckReport(key=cls.key(), candles=len(frame), error=str(error))
    notes = () if drops else (f"Warm-up not checked: {len(frame)} candles are too few to compare after "
                              f"{startup} start-up candles.",)
    return CheckReport(key=cls.key(), candles=len(frame), cuts=len(ends), startup=startup, lookahead=lookahead,
                       warmup=tuple(problem for problem in problems if problem.fails),
                       settling=tuple(problem for problem in problems if not problem.fails),
                       warmup_checked=bool(drops), notes=notes)


class _Runner:
    """Runs a fresh instance (a strategy may keep state between calls) on the first or last rows of the frame."""

    def __init__(self, cls, parameters, frame, informative, pair):
        self.cls, self.parameters, self.frame, self.informative, self.pair = (
            cls, parameters, frame, informative, pair)
        self.interval = bybit_interval(cls.timeframe)
        self.added: list[str] = []  # the indicator columns of the full run
        self.startup = self._instance().startup_candle_count

    def _instance(self) -> IStrategy:
        try:
            return self.cls(self.parameters)
        except Exception as error:  # noqa: BLE001 - the class's own parameter rules: reported, never raised
            raise StrategyError(f"{self.cls.key()} refused its parameters: {error}") from error

    def run(self, end: int, start: int = 0) -> pd.DataFrame:
        """The populated frame of rows ``start:end``, the informative frames holding only candles closed by then."""
        frame = self.frame.iloc[start:end]
        closes_at = frame.index[-1] + interval_delta(self.interval)
        informative = {timeframe: _closed_by(higher, timeframe, closes_at)
                       for timeframe, higher in self.informative.items()}
        metadata = {"pair": self.pair, "timeframe": self.cls.timeframe, "informative": informative}
        result = populate(self._instance(), frame, metadata).frame
        if start == 0 and end == len(self.frame):
            self.added = [column for column in result.columns if column not in self.frame.columns
                          and column not in (*SIGNAL_COLUMNS, *TAG_COLUMNS) and _numeric(result[column])]
        return result


def _closed_by(frame: pd.DataFrame, timeframe: str, moment: pd.Timestamp) -> pd.DataFrame:
    return frame[frame.index + interval_delta(bybit_interval(timeframe)) <= moment]


def _cut_points(rows: int, startup: int, cuts: int) -> list[int]:
    """Row counts to cut the frame to: ``cuts`` of them spread over the candles after the warm-up (over the whole
    frame when it is shorter than the warm-up), never the whole frame itself."""
    first = startup + 1 if startup + 1 < rows - 1 else 2
    if rows - 1 < first:
        return []
    return sorted({int(end) for end in np.linspace(first, rows - 1, num=max(1, cuts))})


def _drops(rows: int, startup: int) -> tuple[int, ...]:
    """How many of the oldest candles to drop for the warm-up runs: a few different amounts, each leaving at least
    ``MIN_COMPARED_CANDLES`` candles after the warm-up to compare."""
    room = rows - startup - MIN_COMPARED_CANDLES
    if room < 1:
        return ()
    return tuple(sorted({drop for drop in (1, max(1, startup // 2), startup, 2 * startup) if drop <= room}))


def _compare_prefix(full: pd.DataFrame, cut: pd.DataFrame, end: int, scales: dict[str, float]) -> list[Difference]:
    """Every column (signals, tags, indicators) of ``cut`` against the first ``end`` rows of ``full``."""
    differences = []
    for column in full.columns:
        if column in CANDLE_COLUMNS:
            continue
        reference = full[column].iloc[:end]
        other = cut[column] if column in cut.columns else pd.Series(np.nan, index=cut.index)
        row = _first_difference(reference, other, scales[column])
        if row is not None:
            differences.append(_difference(column, reference, other, row))
    return differences


def _first_difference(reference: pd.Series, other: pd.Series, scale: float) -> int | None:
    differs = _differs(reference, other, scale)
    rows = np.flatnonzero(differs)
    return int(rows[0]) if len(rows) else None


def _differs(reference: pd.Series, other: pd.Series, scale: float = 0.0) -> np.ndarray:
    """Per row: whether the two values differ (NaN equals NaN; numbers by more than ``LOOKAHEAD_TOLERANCE``
    relative to the larger of the two or the column's typical size ``scale``)."""
    if reference.name in SIGNAL_COLUMNS or other.name in SIGNAL_COLUMNS:
        return _flags(reference) != _flags(other)
    if _numeric(reference) and _numeric(other):
        a, b = reference.to_numpy(dtype="float64"), other.to_numpy(dtype="float64")
        return _relative(a, b, scale) > LOOKAHEAD_TOLERANCE
    a, b = _texts(reference), _texts(other)
    return a != b


def _relative(a: np.ndarray, b: np.ndarray, scale: float) -> np.ndarray:
    """|a - b| relative to the larger of the two, or ``scale`` when that is larger (an oscillator near zero is
    judged by its typical size); 0 where both are NaN or equal, inf where only one is NaN."""
    with np.errstate(invalid="ignore", divide="ignore"):
        size = np.maximum(np.maximum(np.abs(a), np.abs(b)), scale)
        relative = np.where(a == b, 0.0, np.abs(a - b) / np.where(size == 0, 1.0, size))
    both_missing = np.isnan(a) & np.isnan(b)
    one_missing = np.isnan(a) ^ np.isnan(b)
    return np.where(both_missing, 0.0, np.where(one_missing, np.inf, relative))


def _warmup_problems(full: pd.DataFrame, runner: _Runner, drops: tuple[int, ...],
                     startup: int) -> tuple[WarmupProblem, ...]:
    """The columns that, from the ``startup``-th candle of a run missing the oldest ``drop`` candles, still differ
    from the full run's; per column, the worst over the runs."""
    found: dict[str, WarmupProblem] = {}
    scales = {column: _scale(full[column]) for column in runner.added}
    for drop in drops:
        shorter = runner.run(len(full), start=drop)
        for column in full.columns:
            if column in runner.added:
                problem = _indicator_warmup(column, full[column].iloc[drop:], shorter[column] if column in
                                            shorter.columns else None, startup, scales[column])
            elif column in (*SIGNAL_COLUMNS, *TAG_COLUMNS):
                problem = _signal_warmup(column, full[column].iloc[drop:], shorter, startup)
            else:
                continue
            if problem and _worse(problem, found.get(column)):
                found[column] = problem
    order = [*SIGNAL_COLUMNS, *TAG_COLUMNS, *runner.added]
    return tuple(found[column] for column in order if column in found)


def _indicator_warmup(column: str, reference: pd.Series, shorter: pd.Series | None, startup: int,
                      scale: float) -> WarmupProblem | None:
    if shorter is None or not _numeric(shorter):
        return None
    first = _first_trusted(startup)
    a, b = reference.to_numpy(dtype="float64")[first:], shorter.to_numpy(dtype="float64")[first:]
    missing = np.isnan(b) & ~np.isnan(a)
    if missing.any():
        return _problem(column, MISSING, reference, shorter, startup, np.flatnonzero(missing), np.inf)
    with np.errstate(invalid="ignore"):
        drift = np.where(np.isnan(a) & np.isnan(b), 0.0, np.abs(a - b) / scale)
    drift = np.where(np.isnan(drift), np.inf, drift)  # a value where the full run has none
    rows = np.flatnonzero(drift > WARMUP_TOLERANCE)
    if not len(rows):
        return None
    return _problem(column, DRIFT, reference, shorter, startup, rows, float(np.max(drift)))


def _signal_warmup(column: str, reference: pd.Series, shorter: pd.DataFrame, startup: int) -> WarmupProblem | None:
    other = shorter[column] if column in shorter.columns else pd.Series(np.nan, index=shorter.index, name=column)
    first = _first_trusted(startup)
    rows = np.flatnonzero(_differs(reference.iloc[first:], other.iloc[first:]))
    if not len(rows):
        return None
    return _problem(column, SIGNALS, reference, other, startup, rows, np.inf)


def _problem(column: str, kind: str, reference: pd.Series, shorter: pd.Series, startup: int, rows: np.ndarray,
             worst: float) -> WarmupProblem:
    """``rows``: where it differs, counted from the first trusted row. It needs one candle more than the last of
    them had, unless that is at the very end of the run (then no warm-up in these candles is enough)."""
    first, last = (int(row) + _first_trusted(startup) for row in (rows[0], rows[-1]))
    settled = last < len(reference) - MIN_COMPARED_CANDLES // 5
    difference = _difference(column, reference, shorter, first)
    return WarmupProblem(column=column, kind=kind, startup=startup, needed=last + 2 if settled else None,
                         worst=worst, first=difference)


def _first_trusted(startup: int) -> int:
    """The first row whose signal the kernel acts on: the one with ``startup`` candles (itself included)."""
    return max(0, startup - 1)


def _difference(column: str, reference: pd.Series, other: pd.Series, row: int) -> Difference:
    values = (reference.iat[row], other.iat[row])
    if column in SIGNAL_COLUMNS:  # NaN, None, 0 and False all mean "no signal"
        values = tuple(bool(value) and not (isinstance(value, float) and math.isnan(value)) for value in values)
    return Difference(column, reference.index[row], *values)


def _scale(values: pd.Series) -> float:
    """The column's typical size (its median absolute value): what a drift is measured against, so an oscillator
    around zero is not judged by its values near zero."""
    if not _numeric(values):
        return 1.0
    typical = float(np.nanmedian(np.abs(values.to_numpy(dtype="float64")))) if values.notna().any() else 0.0
    return typical if typical > 0 and math.isfinite(typical) else 1.0


def _worse(problem: WarmupProblem, known: WarmupProblem | None) -> bool:
    if known is None:
        return True
    if problem.fails != known.fails:
        return problem.fails
    if problem.needed is None or known.needed is None:
        return problem.needed is None and known.needed is not None
    return problem.needed > known.needed


def _first_per_column(differences) -> tuple[Difference, ...]:
    """The earliest difference of each column, signal columns first."""
    earliest: dict[str, Difference] = {}
    for difference in differences:
        known = earliest.get(difference.column)
        if known is None or difference.time < known.time:
            earliest[difference.column] = difference
    order = {column: index for index, column in enumerate((*SIGNAL_COLUMNS, *TAG_COLUMNS))}
    return tuple(sorted(earliest.values(), key=lambda d: (order.get(d.column, len(order)), d.time)))


def _numeric(series: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)


def _flags(series: pd.Series) -> np.ndarray:
    if series.dtype == bool:
        return series.to_numpy()
    return series.astype(object).where(series.notna(), False).astype(bool).to_numpy()


def _texts(series: pd.Series) -> np.ndarray:
    return series.astype(object).where(series.notna(), "").astype(str).to_numpy()


def _show(value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "empty"
    if isinstance(value, (float, np.floating)):
        return f"{float(value):.6g}"
    return repr(value.item() if isinstance(value, np.generic) else value)
