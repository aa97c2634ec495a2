"""One trial slot, end to end: claim it, ask Optuna for its parameters (once: the trial number is stored before the
backtests start), backtest them on every symbol over the fold's train window, tell Optuna, record the result and
tell the dashboards how far the run got.
"""

from __future__ import annotations

import logging
from collections import Counter

from optuna.trial import TrialState

from core.events import Event, publish
from trades.backtest.inputs import StrategySpec
from trades.optimise import slots, study
from trades.optimise.evaluate import TrialRefused, evaluate, trial_spec
from trades.optimise.models import OptimisationFold, OptimisationRun, TrialSlot
from trades.optimise.objectives import resolve, score
from trades.optimise.space import Space

logger = logging.getLogger(__name__)

Outcome = TrialSlot.Outcome


def run_slot(slot_id: int, worker: str) -> str:
    """Run the slot if this process can take it; what happened, in a word (for the task's result and the logs)."""
    slot = slots.claim(slot_id, worker)
    if slot is None:
        return "taken"
    run, fold = slot.run, slot.fold
    if run.status != OptimisationRun.Status.RUNNING:
        slots.finish(slot, outcome=Outcome.FAILED, reason="the run had ended")
        return "ended"
    space = Space.from_dict(run.settings["space"])
    objectives = resolve(run.settings["objectives"])
    the_study = study.load(fold.study_name, sampler_for(run, fold, slot, space))
    if slot.trial_number is None:
        slot.trial_number, slot.params = ask(the_study, space, slot, worker)
        TrialSlot.objects.filter(pk=slot.pk).update(trial_number=slot.trial_number, params=slot.params)
    values, state, fields = _scored(run, fold, slot, space, objectives)
    the_study.tell(slot.trial_number, values, state=state, skip_if_finished=True)
    if slots.finish(slot, **fields):
        record_progress(run.pk, fold)
    logger.debug("optimisation trial done", extra={"optimisation": run.pk, "fold": fold.index,
                                                   "trial": slot.trial_number, "outcome": fields["outcome"],
                                                   "worker": worker})
    return fields["outcome"]


def sampler_for(run: OptimisationRun, fold: OptimisationFold, slot: TrialSlot, space: Space):
    settings_ = run.settings
    seed = settings_.get("seed")
    cell = space.cell(slot.number) if settings_["sampler"] == study.GRID else None
    # Seeded per trial: every process builds a fresh sampler, and the same seed everywhere would draw the same points.
    return study.sampler(settings_["sampler"], objectives=len(settings_["objectives"]), trials=settings_["trials"],
                         seed=None if seed is None else int(seed) * 100_003 + fold.index * 10_007 + slot.number,
                         cell=cell)


def ask(the_study, space: Space, slot: TrialSlot, worker: str) -> tuple[int, dict]:
    """The slot's trial: a new one, or (a retry) the one an earlier attempt asked but died before recording."""
    if slot.attempts > 1:
        recorded = set(TrialSlot.objects.filter(fold_id=slot.fold_id).exclude(trial_number=None)
                       .values_list("trial_number", flat=True))
        for trial in the_study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
            if trial.user_attrs.get("slot") == slot.number and trial.number not in recorded:
                return trial.number, space.normalise(trial.params)
    trial = the_study.ask(space.distributions())
    trial.set_user_attr("slot", slot.number)
    trial.set_user_attr("worker", worker)
    return trial.number, space.normalise(trial.params)


def _scored(run: OptimisationRun, fold: OptimisationFold, slot: TrialSlot, space: Space, objectives):
    """(values, state, the slot's fields) of the slot's backtests."""
    base = StrategySpec.from_parameters(run.settings["strategy"])
    try:
        spec = trial_spec(base, space, slot.params)
        evaluation = evaluate(spec, run.symbols, run.settings["costs"], fold.train_start, fold.train_end,
                              beat=slots.heartbeat(slot.pk))
    except TrialRefused as refused:
        return None, TrialState.PRUNED, {"outcome": Outcome.PRUNED, "reason": str(refused)[:2000]}
    except Exception as error:  # noqa: BLE001 - one broken trial must not stop the study: failed, with why
        logger.exception("optimisation trial failed", extra={"optimisation": run.pk, "trial": slot.trial_number})
        return None, TrialState.FAIL, {"outcome": Outcome.FAILED, "reason": f"{type(error).__name__}: {error}"[:2000]}
    values, why = score(objectives, evaluation.figures, min_trades=run.settings["min_trades"])
    if values is None:
        return None, TrialState.PRUNED, {"outcome": Outcome.PRUNED, "reason": why, "metrics": evaluation.figures}
    return values, None, {"outcome": Outcome.COMPLETE, "values": values, "metrics": evaluation.figures}


def record_progress(run_id: int, fold: OptimisationFold) -> None:
    """Count the done trials on the run; tell the dashboards at each new percent (and the best so far)."""
    done = TrialSlot.objects.filter(run_id=run_id, state=TrialSlot.State.DONE).count()
    run = OptimisationRun.objects.filter(pk=run_id).only("trials_total", "settings").first()
    percent = min(99, done * 100 // max(1, run.trials_total))  # 100 once the report is written
    OptimisationRun.objects.filter(pk=run_id, trials_done__lt=done).update(trials_done=done)
    if OptimisationRun.objects.filter(pk=run_id, progress__lt=percent).update(progress=percent):
        publish(Event.OPTIMISE_PROGRESS, {"id": run_id, "status": "running", "progress": percent,
                                          "trials_done": done, "trials_total": run.trials_total,
                                          "fold": fold.index, "best": best_so_far(run, fold)})


def best_so_far(run: OptimisationRun, fold: OptimisationFold) -> dict | None:
    """The fold's best complete trial by the first objective: {"trial", "value", "params"}."""
    objective = resolve(run.settings["objectives"])[0]
    best = None
    for number, values, params in TrialSlot.objects.filter(fold=fold, outcome=Outcome.COMPLETE).values_list(
            "trial_number", "values", "params"):
        if best is None or objective.better(values[0], best["value"]):
            best = {"trial": number, "value": values[0], "params": params, "objective": objective.label}
    return best


def outcome_counts(run_id: int) -> dict:
    counts = Counter(TrialSlot.objects.filter(run_id=run_id, state=TrialSlot.State.DONE)
                     .values_list("outcome", flat=True))
    return {outcome: counts.get(outcome, 0) for outcome in Outcome.values}
