"""A fold's ending: the trial it chooses from its train window, that trial scored on the unseen test window after it,
and, once every fold has ended, the run's report.

Single objective: the best trial. Several: the Pareto front (no trial of it is beaten on every objective by
another), and of the front the most balanced trial, the one whose worst objective, each ranked from the front's
worst (0) to its best (1), is highest. Every finishing step is safe to run twice (two workers ending a fold's last
trials at once): each writes only over a fold or run still running.
"""

from __future__ import annotations

import logging

from django.utils import timezone
from optuna.trial import FrozenTrial, TrialState

from core.events import Event, publish
from trades.backtest.inputs import StrategySpec
from trades.optimise import report, study
from trades.optimise.evaluate import TrialRefused, equity_curve, evaluate, trial_spec
from trades.optimise.models import OptimisationFold, OptimisationRun, TrialSlot
from trades.optimise.objectives import MAXIMIZE, Objective, resolve
from trades.optimise.space import Space

logger = logging.getLogger(__name__)


def finish_fold(fold: OptimisationFold) -> None:
    run = fold.run
    objectives = resolve(run.settings["objectives"])
    the_study = study.load(fold.study_name)
    _fail_orphans(the_study, fold)
    done = {slot.trial_number: slot for slot in fold.slots.filter(outcome=TrialSlot.Outcome.COMPLETE)}
    completed = [trial for trial in the_study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
                 if trial.number in done]
    fields = {"chosen_trial": None, "chosen_params": {}, "in_sample": {}, "out_of_sample": {}, "oos_curve": [],
              "pareto": [], "note": ""}
    if not completed:
        fields["note"] = "no trial completed: " + _main_reason(fold)
    else:
        front = completed if len(objectives) == 1 else the_study.best_trials
        chosen = _best(completed, objectives[0]) if len(objectives) == 1 else balanced(front, objectives)
        slot = done[chosen.number]
        fields.update(chosen_trial=chosen.number, chosen_params=slot.params,
                      in_sample={**slot.metrics, "values": slot.values})
        if len(objectives) > 1:
            fields["pareto"] = [{"trial": trial.number, "values": list(trial.values),
                                 "params": done[trial.number].params} for trial in front if trial.number in done]
        if fold.test_start is not None:
            fields.update(_out_of_sample(run, fold, slot.params, objectives))
    if OptimisationFold.objects.filter(pk=fold.pk, status=OptimisationFold.Status.RUNNING).update(
            status=OptimisationFold.Status.DONE, **fields):
        logger.info("optimisation fold done", extra={"optimisation": run.pk, "fold": fold.index,
                                                     "trial": fields["chosen_trial"]})
        publish(Event.OPTIMISE_PROGRESS, {"id": run.pk, "status": "running", "progress": run.progress,
                                          "fold_done": fold.index})
    if not OptimisationFold.objects.filter(run_id=run.pk, status=OptimisationFold.Status.RUNNING).exists():
        finish_run(run.pk)


def finish_run(run_id: int) -> None:
    run = OptimisationRun.objects.get(pk=run_id)
    if run.status != OptimisationRun.Status.RUNNING:
        return
    try:
        results = report.build(run, list(run.folds.order_by("index")))
    except Exception as error:  # noqa: BLE001 - recorded on the run and shown on its page
        logger.exception("optimisation report failed", extra={"optimisation": run_id})
        OptimisationRun.objects.filter(pk=run_id, status=OptimisationRun.Status.RUNNING).update(
            status=OptimisationRun.Status.FAILED, error=f"{type(error).__name__}: {error}"[:2000],
            finished_at=timezone.now())
        publish(Event.OPTIMISE_PROGRESS, {"id": run_id, "status": "failed", "error": str(error)})
        return
    if OptimisationRun.objects.filter(pk=run_id, status=OptimisationRun.Status.RUNNING).update(
            status=OptimisationRun.Status.DONE, results=results, progress=100, finished_at=timezone.now()):
        logger.info("optimisation done", extra={"optimisation": run_id, "strategy": run.name,
                                                "warnings": len(results["warnings"])})
        publish(Event.OPTIMISE_PROGRESS, {"id": run_id, "status": "done", "progress": 100,
                                          "url": run.get_absolute_url()})


def balanced(front: list[FrozenTrial], objectives: list[Objective]) -> FrozenTrial:
    """The front's trial whose worst objective, scaled from the front's worst (0) to its best (1), is highest."""
    def scaled(trial: FrozenTrial) -> tuple:
        scores = []
        for index, objective in enumerate(objectives):
            column = [other.values[index] for other in front]
            low, high = min(column), max(column)
            share = 1.0 if high == low else (trial.values[index] - low) / (high - low)
            scores.append(share if objective.direction == MAXIMIZE else 1.0 - share)
        return min(scores), scores[0], -trial.number

    return max(front, key=scaled)


def _best(trials: list[FrozenTrial], objective: Objective) -> FrozenTrial:
    sign = 1 if objective.direction == MAXIMIZE else -1
    return max(trials, key=lambda trial: (sign * trial.values[0], -trial.number))


def _out_of_sample(run: OptimisationRun, fold: OptimisationFold, params: dict, objectives: list[Objective]) -> dict:
    try:
        spec = trial_spec(StrategySpec.from_parameters(run.settings["strategy"]),
                          Space.from_dict(run.settings["space"]), params)
        evaluation = evaluate(spec, run.symbols, run.settings["costs"], fold.test_start, fold.test_end)
    except TrialRefused as refused:
        return {"note": f"the test window could not be backtested: {refused}"}
    figures = evaluation.figures
    values = [figures.get(objective.metric) for objective in objectives]
    return {"out_of_sample": {**figures, "values": values}, "oos_curve": equity_curve(evaluation.outcomes)}


def _fail_orphans(the_study, fold: OptimisationFold) -> None:
    """Trials an attempt asked for but died before recording (no slot holds them): failed, so none stays running."""
    recorded = set(fold.slots.exclude(trial_number=None).values_list("trial_number", flat=True))
    for trial in the_study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        if trial.number not in recorded:
            the_study.tell(trial.number, state=TrialState.FAIL, skip_if_finished=True)


def _main_reason(fold: OptimisationFold) -> str:
    reasons = list(fold.slots.exclude(reason="").values_list("reason", flat=True))
    if not reasons:
        return "every trial failed"
    common = max(set(reasons), key=reasons.count)
    return f"{len(reasons)} of {fold.slots.count()} trials pruned or failed, most often: {common}"
