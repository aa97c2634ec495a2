"""``manage.py optimise``: a 5-fold walk-forward of a built-in strategy over the bundled month, its IS/OOS table and
warnings, --show, --apply, --local (trials in forked processes here), and errors a person reads."""

from __future__ import annotations

import uuid
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from strategies.models import Strategy
from tests.optimise.conftest import forget_queue
from trades.optimise.models import OptimisationRun, TrialSlot

# Real commits: the command follows the study in the database while its trials run (eagerly, or in children).
pytestmark = pytest.mark.django_db(transaction=True)


def optimise(*args) -> str:
    out = StringIO()
    call_command("optimise", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_a_five_fold_walk_forward_over_the_bundled_month_prints_the_in_and_out_of_sample_table(ema, eager):
    out = optimise("--strategy", str(ema.pk), "--trials", "3", "--walk-forward", "5", "--test-share", "0.25",
                   "--space", "fast=5:15", "slow=25:60", "--min-trades", "1", "--seed", "1")

    run = OptimisationRun.objects.get()
    assert run.status == "done" and run.folds.count() == 5 and run.trials_done == 15
    lines = out.splitlines()
    header = next(line for line in lines if line.startswith("fold"))
    assert header.split() == ["fold", "train", "(UTC)", "test", "(UTC)", "trial", "parameters", "IS", "Sharpe", "OOS",
                              "Sharpe", "IS", "trades", "OOS", "trades"]
    rows = lines[lines.index(header) + 1:lines.index(header) + 6]
    assert [row.split()[0] for row in rows] == ["1", "2", "3", "4", "5"]
    for row, fold in zip(rows, run.results["folds"], strict=True):
        assert f"fast={fold['params']['fast']} slow={fold['params']['slow']}" in row
    assert "mean Sharpe: in-sample" in out and "stitched out-of-sample return:" in out
    assert "parameter  chosen per fold" in out
    for warning in run.results["warnings"]:
        assert f"warning: {warning}" in out
    last = run.results["folds"][-1]
    assert f"apply: manage.py optimise --apply {run.pk} --trial {last['trial']} --fold 5" in out

    assert show(run) == out.split("\n", 1)[1].strip()  # --show prints the same report again
    made = optimise("--apply", str(run.pk), "--trial", str(last["trial"]), "--fold", "5")
    assert "made (inactive)" in made and Strategy.objects.get(derived_from=ema).indicators == last["params"]


def show(run) -> str:
    return optimise("--show", str(run.pk)).strip()


def test_local_processes_run_the_trials_here(ema, settings):
    settings.CELERY_TASK_DEFAULT_QUEUE = queue = f"unused-{uuid.uuid4().hex[:8]}"  # what it queues, nobody reads
    try:
        optimise("--strategy", str(ema.pk), "--from", "2026-04-02", "--to", "2026-04-09", "--trials", "4",
                 "--space", "fast=5:12", "slow=30:60", "--min-trades", "0", "--local", "2")
    finally:
        forget_queue(queue)
    run = OptimisationRun.objects.get()
    assert run.status == "done" and run.trials_done == 4
    workers = set(TrialSlot.objects.filter(run=run).values_list("worker", flat=True))
    assert workers and all(worker.startswith("local-") for worker in workers)


@pytest.mark.parametrize(("args", "says"), [
    (["--space", "fast=1:99"], "outside the declared range 3..50"),
    (["--walk-forward", "30"], "walk-forward folds must be from 1 to 20"),
    (["--trial", "3"], "--trial and --fold go with --apply"),
])
def test_mistakes_are_one_line_errors(ema, args, says):
    with pytest.raises(CommandError, match=says):
        optimise("--strategy", str(ema.pk), *args)
    assert not OptimisationRun.objects.exists()
