"""The look-ahead and warm-up check (``strategies.sdk.lookahead``) on the bundled replay candles, and the gate every
way of activating a strategy goes through (``strategies.services.switch``, the admin's action, the API's save).

A strategy that reads the future, or trusts its indicators before they have warmed up, backtests better than it
trades; it is refused activation with the check's report. A pass is remembered per class key, class file (its
SHA-256) and parameter values (``StrategyCheck``), so activating again does not run the strategy again; editing the
file makes it a new check.

The candles are the bundled 1-minute files (``settings.CANDLE_DATA_DIR``), read here with pandas rather than
through ``exchange.replay`` (the two apps are independent), resampled with ``market.candles.resample`` like every
other path, to the class's own timeframe.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import json
import logging
from dataclasses import replace

import pandas as pd
from django.conf import settings
from django.db import IntegrityError, transaction

from core.errors import Forbidden
from market.candles import COLUMNS, bundled_files, resample
from strategies.catalogue import catalogue, refresh
from strategies.models import StrategyCheck
from strategies.sdk.base import IStrategy, bybit_interval
from strategies.sdk.lookahead import CheckReport, check

logger = logging.getLogger(__name__)

GATE_SYMBOL = "BTCUSDT"
# The newest candles of the class's timeframe the check runs on: enough for 20 cuts after a long warm-up and a few
# warm-up runs, few enough to take about a second.
CHECK_CANDLES = 1500
# Bumped when the check itself changes, so a pass remembered under the old rules is checked again.
CHECK_VERSION = "1"


class CheckFailed(Forbidden):
    """Activation refused: the strategy failed the check. A 400 (the strategy is wrong, not the person), raised as
    a Forbidden so that every front end showing a refused switch shows this refusal the same way."""

    status = 400


def check_strategy(key: str, parameters: dict | None, *, symbol: str = GATE_SYMBOL) -> CheckReport:
    """Run the check on ``symbol``'s bundled candles now (raises LookupError for an unknown class or symbol)."""
    cls = _class(key)
    frame, informative = candles_for(cls, parameters, symbol)
    report = check(cls, parameters, frame, informative=informative, pair=symbol)
    if report.startup > settings.CYCLE_KLINE_LIMIT:
        # Not the strategy's fault, and not a look-ahead: the bot's setting decides, so a note rather than a failure.
        report = replace(report, notes=(*report.notes, (
            f"Note: it needs {report.startup} start-up candles but the live cycle fetches {settings.CYCLE_KLINE_LIMIT} "
            f"(CYCLE_KLINE_LIMIT): live it would hold on every candle. Raise CYCLE_KLINE_LIMIT or lower "
            f"startup_candle_count.")))
    return report


def remembered_check(key: str, parameters: dict | None, *, symbol: str = GATE_SYMBOL) -> StrategyCheck:
    """The check's verdict for this class file and these parameters: a remembered pass, or a fresh run (stored)."""
    known = StrategyCheck.objects.filter(**_identity(_class(key), parameters, symbol)).first()
    if known is not None and known.passed:
        return known
    return record(key, parameters, symbol, check_strategy(key, parameters, symbol=symbol))


def record(key: str, parameters: dict | None, symbol: str, report: CheckReport) -> StrategyCheck:
    """Remember ``report`` as the verdict for the class's current file and these parameters."""
    identity = _identity(_class(key), parameters, symbol)
    fields = {"passed": report.passed, "report": report.text(), "parameters": _jsonable(parameters)}
    try:
        with transaction.atomic():
            found, _ = StrategyCheck.objects.update_or_create(**identity, defaults=fields)
    except IntegrityError:  # two activations checked at once: the other one stored the same verdict
        found = StrategyCheck.objects.get(**identity)
    logger.info("strategy checked", extra={"strategy_type": key, "passed": report.passed})
    return found


def _identity(cls: type[IStrategy], parameters: dict | None, symbol: str) -> dict:
    return {"key": cls.key(), "source_hash": source_hash(cls), "parameters_hash": parameters_hash(cls, parameters),
            "symbol": symbol}


def activation_refusal(key: str, parameters: dict | None) -> str | None:
    """Why a strategy of class ``key`` with ``parameters`` may not be activated (the check's report), or None."""
    try:
        verdict = remembered_check(key, parameters)
    except LookupError as missing:
        # No bundled candles to check on (a deployment without the replay files): say so in the log, don't block.
        logger.warning("strategy activated unchecked: %s", missing, extra={"strategy_type": key})
        return None
    if verdict.passed:
        return None
    return f"Not activated: it failed the look-ahead and warm-up check.\n{verdict.report}"


def refuse_unless_checked(key: str, parameters: dict | None) -> None:
    """Raise ``CheckFailed`` with the report when the strategy fails the check."""
    refusal = activation_refusal(key, parameters)
    if refusal:
        raise CheckFailed(refusal)


def latest_verdicts() -> dict[str, StrategyCheck]:
    """The newest stored check of each class key whose file has not changed since (for list_strategies)."""
    verdicts = {}
    for key, cls in catalogue().classes.items():
        found = StrategyCheck.objects.filter(key=key, source_hash=source_hash(cls)).order_by("-checked_at").first()
        if found is not None:
            verdicts[key] = found
    return verdicts


def candles_for(cls: type[IStrategy], parameters: dict | None,
                symbol: str) -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
    """The newest closed candles of the class's timeframe (``CHECK_CANDLES``, more for a long warm-up) and its
    informative timeframes' candles, from ``symbol``'s bundled minutes."""
    minutes = bundled_minutes(symbol)
    frame = resample(minutes, cls.interval())
    startup = _startup(cls, parameters)
    frame = frame.iloc[-max(CHECK_CANDLES, 4 * startup):]
    informative = {timeframe: resample(minutes, bybit_interval(timeframe)) for timeframe in cls.informative_timeframes}
    return frame, informative


def bundled_minutes(symbol: str) -> pd.DataFrame:
    files = bundled_files(settings.CANDLE_DATA_DIR)
    if symbol not in files:
        raise LookupError(f"no bundled candles for {symbol} in {settings.CANDLE_DATA_DIR} (there are: "
                          f"{', '.join(files) or 'none'})")
    return _read_minutes(str(files[symbol]))


@functools.lru_cache(maxsize=4)
def _read_minutes(path: str) -> pd.DataFrame:
    """A bundled ``*_1m.csv.gz`` as a candle frame (the same reading as ``exchange.replay.load_minutes``)."""
    raw = pd.read_csv(path, dtype={"timestamp_ms": "int64", **{column: "float64" for column in COLUMNS}})
    index = pd.DatetimeIndex(pd.to_datetime(raw["timestamp_ms"], unit="ms", utc=True), name="start")
    return pd.DataFrame(raw[COLUMNS].to_numpy(), index=index, columns=COLUMNS)


def source_hash(cls: type[IStrategy]) -> str:
    """SHA-256 of the file the class is defined in (and the check's version): a changed file is checked again."""
    digest = hashlib.sha256(CHECK_VERSION.encode())
    try:
        path = inspect.getsourcefile(cls)
        with open(path, "rb") as source:
            digest.update(source.read())
    except (OSError, TypeError):  # no file to read (a class made in memory): its qualified name stands in
        digest.update(f"{cls.__module__}.{cls.__qualname__}".encode())
    return digest.hexdigest()


def parameters_hash(cls: type[IStrategy], parameters: dict | None) -> str:
    try:
        values = cls.clean_parameters(parameters)
    except Exception:  # noqa: BLE001 - values the class refuses: hashed as given, the check reports the refusal
        values = parameters or {}
    return hashlib.sha256(json.dumps(_jsonable(values), sort_keys=True).encode()).hexdigest()


def _class(key: str) -> type[IStrategy]:
    """The class as its file reads now: re-read first if the file changed, so the code checked is the code whose
    hash the verdict is remembered under."""
    cls = refresh().get(key)
    if cls is None:
        raise LookupError(f"there is no strategy class {key!r}")
    return cls


def _startup(cls: type[IStrategy], parameters: dict | None) -> int:
    try:
        return int(cls(parameters).startup_candle_count)
    except Exception:  # noqa: BLE001 - the check itself reports parameters the class refuses
        return int(cls.startup_candle_count)


def _jsonable(values) -> dict:
    return json.loads(json.dumps(values or {}, default=str))
