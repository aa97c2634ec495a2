"""A study end to end, its trials run eagerly in this process: every trial once, in-sample against out-of-sample per
fold from the same runner as a backtest, the grid's every cell, a Pareto front, pruning, the refusals."""

from __future__ import annotations

import optuna
import pytest
from optuna.trial import TrialState

from core.errors import Forbidden, Invalid, NotFound
from trades.backtest.inputs import StrategySpec
from trades.backtest.runner import complete, prepare
from trades.optimise import study
from trades.optimise.evaluate import run_settings
from trades.optimise.models import OptimisationRun, TrialSlot

pytestmark = pytest.mark.django_db


def trials_of(fold) -> list:
    return study.load(fold.study_name).get_trials(deepcopy=False)


def test_a_walk_forward_study_runs_each_trial_once_and_scores_the_choice_out_of_sample(launched, ema):
    run = launched(walk_forward=2, test_share=0.4)

    assert (run.status, run.progress, run.trials_done, run.trials_total) == ("done", 100, 8, 8)
    for fold in run.folds.all():
        trials = trials_of(fold)
        assert [t.state for t in trials] == [TrialState.COMPLETE] * 4  # none lost, none doubled, none running
        assert sorted(fold.slots.values_list("trial_number", flat=True)) == [t.number for t in trials]
        best = max(trials, key=lambda t: (t.values[0], -t.number))
        assert fold.chosen_trial == best.number and fold.in_sample["values"] == [best.values[0]]
        assert fold.train_end == fold.test_start and fold.out_of_sample["trades"] >= 0
        # The trial's figure is a backtest's, through the backtests' own runner, on the fold's train window.
        spec = StrategySpec.from_strategy(ema).with_indicators(**fold.chosen_params)
        costs = run.settings["costs"]
        alone = complete(prepare(spec, run_settings(costs, "BTCUSDT", fold.train_start, fold.train_end)))
        assert alone.report.metrics["sharpe"] == pytest.approx(fold.in_sample["sharpe"], abs=1e-4)
    results = run.results
    assert [row["index"] for row in results["folds"]] == [0, 1]
    assert all(row["is_score"] is not None and row["oos_score"] is not None for row in results["folds"])
    assert results["trials"] == {"complete": 8, "pruned": 0, "failed": 0}
    curve = results["oos_curve"]
    assert curve[0][1] == pytest.approx(10_000, rel=0.02)
    assert curve[0][0] == int(run.folds.get(index=0).test_start.timestamp() * 1000)
    assert [point[0] for point in curve] == sorted({point[0] for point in curve})  # one point per time, in order
    assert [row["name"] for row in results["stability"]] == ["fast", "slow"]


def test_the_grid_sampler_tries_every_cell_exactly_once(launched):
    run = launched(sampler="grid", trials=9, ranges={"fast": "5:9:2", "slow": "30:50:10"})

    [fold] = run.folds.all()
    cells = sorted((t.params["fast"], t.params["slow"]) for t in trials_of(fold))
    assert cells == [(fast, slow) for fast in (5, 7, 9) for slow in (30, 40, 50)]
    assert run.results["warnings"][0].startswith("In-sample only")


def test_a_grid_larger_than_the_trials_is_refused(ask):
    from trades.optimise.commands import launch_study

    with pytest.raises(Invalid, match="The grid has 9 cells, more than the 5 trials asked for"):
        launch_study(None, ask(sampler="grid", trials=5, ranges={"fast": "5:9:2", "slow": "30:50:10"}))
    assert not OptimisationRun.objects.exists()


def test_profit_and_drawdown_give_a_pareto_front_of_undominated_trials(launched):
    run = launched(objectives=["profit_dd"], trials=6)

    assert run.settings["sampler"] == "nsga2" and run.settings["objectives"] == ["profit", "drawdown"]
    [fold] = run.folds.all()
    complete_ = [t for t in trials_of(fold) if t.state == TrialState.COMPLETE]
    front = run.results["pareto"]
    assert front and {item["trial"] for item in front} <= {t.number for t in complete_}
    for item in front:
        profit, drawdown = item["values"]
        assert not any(t.values[0] >= profit and t.values[1] <= drawdown and t.values != [profit, drawdown]
                       for t in complete_)
    assert fold.chosen_trial in {item["trial"] for item in front}


def test_trials_with_too_few_trades_are_pruned_with_the_reason_and_the_report_says_so(launched):
    run = launched(min_trades=100_000, trials=3)

    [fold] = run.folds.all()
    assert {t.state for t in trials_of(fold)} == {TrialState.PRUNED}
    assert set(fold.slots.values_list("outcome", flat=True)) == {"pruned"}
    assert "fewer than the minimum of 100000" in fold.slots.first().reason
    assert fold.chosen_trial is None and fold.note.startswith("no trial completed: 3 of 3 trials pruned or failed")
    assert any("3 of 3 trials were pruned" in warning for warning in run.results["warnings"])


def test_parameters_the_class_refuses_are_pruned_not_crashed(launched):
    run = launched(ranges={"fast": "20:30", "slow": "10:19"}, trials=2)  # fast must be below slow

    assert run.status == "done"
    assert all("fast must be below slow" in slot.reason for slot in TrialSlot.objects.filter(run=run))


@pytest.mark.parametrize(("overrides", "field", "says"), [
    ({"strategy_id": 99_999}, "strategy", "There is no strategy 99999"),
    ({"ranges": {"fast": "1:99"}}, "space", "outside the declared range"),
    ({"walk_forward": 6}, "walk_forward", "shorter than 2 d 2 h"),
    ({"symbols": ["BTCUSDT", "BTCUSDT"]}, "symbols", "distinct symbols"),
    ({"symbols": ["DOGEUSDT"]}, "start", "no bundled candles for DOGEUSDT"),
    ({"sampler": "annealing"}, "sampler", "Unknown sampler"),
    ({"trials": 0}, "trials", "Trials must be from 1"),
])
def test_bad_requests_are_refused_naming_the_field_and_nothing_is_made(ask, overrides, field, says):
    from trades.optimise.commands import launch_study

    with pytest.raises((Invalid, NotFound), match=says) as refused:
        launch_study(None, ask(**overrides))
    assert refused.value.field == field
    assert not OptimisationRun.objects.exists()


def test_launching_needs_the_permission_the_backtest_groups_have(ask, make_member):
    from trades.optimise.commands import launch_study

    with pytest.raises(Forbidden, match="Can add optimisation run"):
        launch_study(make_member("watcher", "viewer"), ask())
    assert not OptimisationRun.objects.exists()


def test_optunas_tables_live_apart_from_djangos():
    url, options = study.storage_url({"ENGINE": "django.db.backends.postgresql", "NAME": "bot db", "USER": "me",
                                      "PASSWORD": "p@ss", "HOST": "db", "PORT": 5432,
                                      "OPTIONS": {"sslmode": "require", "pool": {"max_size": 4}}})
    assert url == "postgresql+psycopg://me:p%40ss@db:5432/bot%20db?sslmode=require"
    assert options["connect_args"] == {"options": "-c search_path=optuna"}
    sqlite, _ = study.storage_url({"ENGINE": "django.db.backends.sqlite3", "NAME": "/srv/var/tradebot.sqlite3"})
    assert sqlite == "sqlite:////srv/var/optuna.sqlite3"
    assert study.storage_url({"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"})[0] == "memory"
    assert isinstance(study.storage(), optuna.storages.RDBStorage)
