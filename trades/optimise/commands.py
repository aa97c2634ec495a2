"""The command layer of optimisation: launch a study, resume one, apply a trial's parameters as a new strategy. One
function each with its guards, raising ``core.errors``; the API, the pages and ``manage.py optimise`` call them.
``user`` None is the console (``manage.py`` without ``--user``): whoever runs it owns the machine.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from core.errors import Conflict, Forbidden, Invalid, NotFound
from core.security import permission_refusal
from market.errors import InvalidOrderError
from market.instruments import check_symbol
from market.intervals import INTERVAL_MINUTES
from strategies.catalogue import strategy_class
from strategies.models import Strategy
from trades.backtest import costs
from trades.backtest.data import BUNDLED, DataError, fit_range
from trades.backtest.inputs import StrategySpec
from trades.backtest.runner import warmup_for
from trades.optimise import slots, study
from trades.optimise.folds import FoldError, in_sample, walk_forward
from trades.optimise.models import AppliedTrial, OptimisationFold, OptimisationRun, TrialSlot
from trades.optimise.objectives import resolve
from trades.optimise.space import Space, build_space
from trades.optimise.tasks import default_queue, keep_going, send

logger = logging.getLogger(__name__)

LAUNCH, APPLY = "optimise.add_optimisationrun", "strategies.add_strategy"
MAX_TRIALS = 10_000
MIN_WINDOW_CANDLES = 20


@dataclass(frozen=True)
class StudyRequest:
    """What a person asks for; every front end fills one and ``launch_study`` checks all of it."""

    strategy_id: int
    symbols: list[str] = field(default_factory=list)  # default: the strategy's
    start: datetime | None = None  # default: the data's, after the warm-up
    end: datetime | None = None
    trials: int = 100
    sampler: str = ""  # default: tpe, or nsga2 with several objectives
    objectives: list[str] = field(default_factory=lambda: ["sharpe"])
    walk_forward: int = 0  # folds; 0: one in-sample study over the whole range
    test_share: float = 0.2
    anchored: bool = False
    min_trades: int = 10
    ranges: dict = field(default_factory=dict)  # name -> "low:high[:step]" or "a,b"
    pins: dict = field(default_factory=dict)  # name -> value
    source: str = BUNDLED
    initial_balance: Decimal = costs.INITIAL_BALANCE
    fee_rate: Decimal = costs.FEE_RATE
    slippage_bps: Decimal = costs.SLIPPAGE_BPS
    seed: int | None = None


def launch_refusal(user) -> str | None:
    """Why ``user`` may not launch optimisations, or None (forms ask it before validating)."""
    return None if user is None else permission_refusal(user, LAUNCH)


def apply_refusal(user) -> str | None:
    """Why ``user`` may not make a trial a strategy, or None (asked before reading what they sent)."""
    return None if user is None else permission_refusal(user, APPLY)


def launch_study(user, request: StudyRequest) -> OptimisationRun:
    """A running optimisation with its studies made and its first trials queued (once the rows are committed)."""
    refusal = launch_refusal(user)
    if refusal:
        raise Forbidden(refusal)
    strategy = Strategy.objects.filter(pk=request.strategy_id).first()
    if strategy is None:
        raise NotFound(f"There is no strategy {request.strategy_id}.", field="strategy")
    objectives = resolve(request.objectives)
    sampler = request.sampler or (study.NSGA2 if len(objectives) > 1 else study.TPE)
    if sampler not in study.SAMPLERS:
        raise Invalid(f"Unknown sampler {sampler!r}; choose from {', '.join(study.SAMPLERS)}.", field="sampler")
    if not 1 <= request.trials <= MAX_TRIALS:
        raise Invalid(f"Trials must be from 1 to {MAX_TRIALS}, got {request.trials}.", field="trials")
    if not 0 <= request.min_trades <= 100_000:
        raise Invalid("The minimum number of trades must be from 0 to 100000.", field="min_trades")
    space = build_space(strategy.type, request.ranges, request.pins)
    spec = _spec(strategy, space)
    trials = _trials(sampler, space, request.trials)
    symbols = _symbols(request.symbols or strategy.symbols)
    start, end, note = _range(symbols, request, spec)
    windows = _folds(request, spec, start, end)
    if trials * len(windows) > MAX_TRIALS * 2:
        raise Invalid(f"At most {MAX_TRIALS * 2:,} trials in all: {trials:,} trials x {len(windows)} folds is "
                      f"{trials * len(windows):,}.", field="trials")
    run = _create(user, strategy, request, spec, symbols, start, end, note, windows, space,
                  {"objectives": [objective.name for objective in objectives], "sampler": sampler, "trials": trials})
    logger.info("optimisation launched", extra={"optimisation": run.pk, "strategy": strategy.name,
                                                "symbols": ",".join(symbols), "trials": trials, "folds": len(windows),
                                                "user": user.get_username() if user else "console"})
    return run


def resume_study(user, run_id: int) -> int:
    """Queue again what a running study is waiting for (messages a broker lost, trials of a dead worker); the
    number of trials sent again."""
    refusal = launch_refusal(user)
    if refusal:
        raise Forbidden(refusal)
    run = _run(run_id)
    if run.finished:
        raise Conflict(f"Optimisation #{run.pk} has ended ({run.status}); launch a new one.")
    with transaction.atomic():
        count = slots.requeue_waiting(run.pk, lambda slot_ids: send(run.pk, slot_ids))
    keep_going(run.pk)
    logger.info("optimisation resumed", extra={"optimisation": run.pk, "slots": count})
    return count


def apply_parameters(user, run_id: int, trial_number: int, fold: int | None = None) -> Strategy:
    """A new, inactive strategy: the run's strategy with trial ``trial_number``'s parameters (of ``fold``, by default
    the last one's study), ``derived_from`` the old one, which is kept as it was."""
    refusal = apply_refusal(user)
    if refusal:
        raise Forbidden(refusal)
    run = _run(run_id)
    fold_index = run.folds.count() - 1 if fold is None else fold
    slot = TrialSlot.objects.filter(run=run, fold__index=fold_index, trial_number=trial_number).first()
    if slot is None:
        raise NotFound(f"Optimisation #{run.pk} has no trial {trial_number} in fold {fold_index + 1}.", field="trial")
    if slot.outcome != TrialSlot.Outcome.COMPLETE:
        raise Conflict(f"Trial {trial_number} did not complete ({slot.outcome or slot.state}"
                       f"{': ' + slot.reason if slot.reason else ''}); apply a complete one.")
    source = run.strategy
    if source is None:
        raise Conflict(f"The strategy of optimisation #{run.pk} was deleted: there is nothing to derive from.")
    if source.type != run.strategy_type:
        raise Conflict(f"{source.name} is a {source.type} strategy now, not the {run.strategy_type} that was "
                       f"optimised; its parameters would not fit.")
    label = f"{fold_index + 1}.{trial_number}" if run.folds.count() > 1 else str(trial_number)
    name = f"{source.name} (opt #{run.pk}/{label})"
    note = (f"Applied by {user.get_username() if user else 'the console'} on {timezone.now():%Y-%m-%d %H:%M} UTC "
            f"from optimisation #{run.pk}, fold {fold_index + 1}, trial {trial_number}.")
    derived = _derived(source, Space.from_dict(run.settings["space"]), slot.params, name, note)
    AppliedTrial.objects.create(run=run, fold_index=fold_index, trial_number=trial_number, parameters=slot.params,
                                strategy=derived, strategy_name=derived.name, applied_by=user)
    logger.info("optimised parameters applied", extra={"optimisation": run.pk, "fold": fold_index,
                                                       "trial": trial_number, "strategy": derived.name,
                                                       "from_strategy": source.name,
                                                       "user": user.get_username() if user else "console"})
    return derived


def _derived(source: Strategy, space: Space, params: dict, name: str, note: str) -> Strategy:
    indicators, risk = space.split(params)
    derived = Strategy.objects.get(pk=source.pk)
    derived.pk = None
    derived.name, derived.is_active, derived.activated_by = name[:255], False, None
    derived.paused_until, derived.pause_reason = None, ""
    derived.derived_from, derived.derivation_note = source, note
    derived.indicators = {**(source.indicators or {}), **indicators}
    for key, value in risk.items():
        setattr(derived, key, value.quantize(Decimal("0.01")))
    try:
        derived.full_clean()
    except ValidationError as error:
        messages = error.message_dict if hasattr(error, "error_dict") else {"": error.messages}
        if "name" in messages:
            raise Conflict(f"A strategy named {name!r} exists already: this trial was applied before.") from None
        raise Invalid(" ".join(f"{key}: {m}" if key else m for key, ms in messages.items() for m in ms)) from None
    try:
        with transaction.atomic():
            derived.save()
    except IntegrityError:  # the same trial applied twice at once
        raise Conflict(f"A strategy named {name!r} exists already: this trial was applied before.") from None
    return derived


def _run(run_id: int) -> OptimisationRun:
    run = OptimisationRun.objects.filter(pk=run_id).first()
    if run is None:
        raise NotFound(f"There is no optimisation {run_id}.")
    return run


def _spec(strategy: Strategy, space: Space) -> StrategySpec:
    try:
        spec = StrategySpec.from_strategy(strategy)
        return spec.with_indicators(**space.pinned) if space.pinned else spec
    except (ValidationError, ValueError) as error:
        messages = error.messages if isinstance(error, ValidationError) else [str(error)]
        raise Invalid(f"{strategy.name}: " + " ".join(messages), field="space") from None


def _trials(sampler: str, space: Space, asked: int) -> int:
    """The number of trials per fold: a grid runs each of its cells once."""
    if sampler != study.GRID:
        return asked
    size = space.grid_size()
    if size > asked:
        raise Invalid(f"The grid has {size:,} cells, more than the {asked:,} trials asked for: give steps "
                      f"(name=low:high:step) or more trials.", field="trials")
    return size


def _symbols(symbols: list[str]) -> list[str]:
    cleaned = []
    for symbol in symbols:
        try:
            cleaned.append(check_symbol(str(symbol).strip().upper()))
        except InvalidOrderError as error:
            raise Invalid(str(error), field="symbols") from None
    if not cleaned or len(set(cleaned)) != len(cleaned) or len(cleaned) > 20:
        raise Invalid("Give 1 to 20 distinct symbols, such as BTCUSDT,ETHUSDT.", field="symbols")
    return cleaned


def _range(symbols: list[str], request: StudyRequest, spec: StrategySpec) -> tuple[datetime, datetime, str]:
    """The range every symbol's candles cover (cut to them, saying so)."""
    if request.start is not None and request.end is not None and request.end <= request.start:
        raise Invalid("The end must be after the start.", field="end")
    spans = []
    for symbol in symbols:
        try:
            spans.append(fit_range(symbol, request.source, request.start, request.end, warmup_for(spec)))
        except DataError as error:
            raise Invalid(str(error), field="start") from None
    start, end = max(span.start for span in spans), min(span.end for span in spans)
    if end <= start:
        raise Invalid(f"The candles of {', '.join(symbols)} share no range.", field="start")
    return start, end, " ".join(span.note for span in spans if span.note)


def _folds(request: StudyRequest, spec: StrategySpec, start: datetime, end: datetime) -> list:
    cls = strategy_class(spec.type)
    startup = cls(spec.indicators).startup_candle_count if cls else 0
    candles = max(startup, MIN_WINDOW_CANDLES)
    minimum = timedelta(minutes=candles * INTERVAL_MINUTES[spec.timeframe])
    why = f"{candles} candles of {spec.timeframe} minutes, the strategy's warm-up" if startup >= MIN_WINDOW_CANDLES \
        else f"{candles} candles of {spec.timeframe} minutes"
    try:
        if request.walk_forward:
            return walk_forward(start, end, request.walk_forward, request.test_share, anchored=request.anchored,
                                min_window=minimum, why=why)
        return in_sample(start, end, min_window=minimum, why=why)
    except FoldError as error:
        raise Invalid(str(error), field="walk_forward") from None


def _create(user, strategy, request, spec, symbols, start, end, note, windows, space, choice):
    settings_ = {**choice, "walk_forward": request.walk_forward, "test_share": request.test_share,
                 "anchored": request.anchored, "min_trades": request.min_trades, "seed": request.seed,
                 "space": space.as_dict(), "space_text": space.describe(), "strategy": spec.as_parameters(),
                 "costs": {"source": request.source, "initial_balance": str(request.initial_balance),
                           "fee_rate": str(request.fee_rate), "slippage_bps": str(request.slippage_bps)},
                 "note": note, "queue": default_queue()}
    directions = [objective.direction for objective in resolve(choice["objectives"])]
    made = []
    with transaction.atomic():
        run = OptimisationRun.objects.create(
            strategy=strategy, name=strategy.name, strategy_type=strategy.type, timeframe=spec.timeframe,
            symbols=symbols, start=start, end=end, settings=settings_, created_by=user,
            trials_total=choice["trials"] * len(windows))
        try:
            for window in windows:
                name = f"tradebot-opt-{run.pk}-fold-{window.index}-{timezone.now():%Y%m%d%H%M%S%f}"
                fold = OptimisationFold.objects.create(
                    run=run, index=window.index, study_name=name, train_start=window.train_start,
                    train_end=window.train_end, test_start=window.test_start, test_end=window.test_end)
                TrialSlot.objects.bulk_create(TrialSlot(run=run, fold=fold, number=number)
                                              for number in range(choice["trials"]))
                study.create(name, directions)
                made.append(name)
        except BaseException:
            for name in made:  # Optuna's rows are not in this transaction: undo them by hand
                study.delete(name)
            raise
        transaction.on_commit(lambda: _start(run.pk))
    return run


def _start(run_id: int) -> None:
    try:
        keep_going(run_id)
    except Exception as error:  # noqa: BLE001 - no broker: say so on the run instead of leaving it waiting
        logger.exception("optimisation could not be queued", extra={"optimisation": run_id})
        OptimisationRun.objects.filter(pk=run_id, status=OptimisationRun.Status.RUNNING).update(
            status=OptimisationRun.Status.FAILED, error=f"could not be queued: {error}"[:2000],
            finished_at=timezone.now())
