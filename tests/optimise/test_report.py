"""The report's pure parts: objectives over several symbols, the collapse rule and its plain warning, parameter
stability, the stitched out-of-sample curve, the balanced pick of a Pareto front."""

from types import SimpleNamespace

import pytest
from optuna.trial import create_trial

from core.errors import Invalid
from trades.optimise.objectives import OBJECTIVES, combined, resolve, score
from trades.optimise.report import collapses, compare, stability, stitch, warnings
from trades.optimise.walkforward import balanced

SHARPE, PROFIT, DRAWDOWN = OBJECTIVES["sharpe"], OBJECTIVES["profit"], OBJECTIVES["drawdown"]


def test_profit_dd_is_two_objectives_in_opposite_directions():
    assert [(o.name, o.direction) for o in resolve(["profit_dd"])] == [("profit", "maximize"), ("drawdown", "minimize")]
    with pytest.raises(Invalid, match="Unknown objective 'alpha'"):
        resolve(["alpha"])
    with pytest.raises(Invalid, match="named twice"):
        resolve(["profit", "profit_dd"])


def test_several_symbols_sum_profits_average_ratios_and_keep_the_worst_drawdown():
    figures = combined([{"total_return_pct": "2.5", "max_drawdown_pct": 3.0, "sharpe": 1.0, "trades": 10},
                        {"total_return_pct": "-1.0", "max_drawdown_pct": 5.0, "sharpe": 2.0, "trades": 4}])
    assert (figures["total_return_pct"], figures["max_drawdown_pct"], figures["sharpe"], figures["trades"]) == (
        1.5, 5.0, 1.5, 14)
    assert combined([{"sharpe": None, "trades": 1}, {"sharpe": 2.0, "trades": 1}])["sharpe"] is None


def test_a_trial_with_too_few_trades_or_no_figure_is_pruned_with_the_reason():
    assert score([SHARPE], {"trades": 3, "sharpe": 2.0}, min_trades=5) == (
        None, "3 trade(s), fewer than the minimum of 5")
    assert score([SHARPE], {"trades": 9, "sharpe": None}, min_trades=5)[1].startswith("no Sharpe")
    assert score([PROFIT, DRAWDOWN], {"trades": 9, "total_return_pct": 4.0, "max_drawdown_pct": 2.0},
                 min_trades=5) == ([4.0, 2.0], "")


@pytest.mark.parametrize(("is_value", "oos_value", "objective", "collapsed"), [
    (2.0, 0.9, SHARPE, True),   # under half
    (2.0, 1.1, SHARPE, False),
    (0.5, -0.1, PROFIT, True),  # negative while in-sample was positive
    (-0.5, -2.0, SHARPE, False),  # no edge in sample either: another warning says so
    (2.0, 4.5, DRAWDOWN, True),  # a drawdown over twice
    (2.0, 3.0, DRAWDOWN, False),
])
def test_the_collapse_rule(is_value, oos_value, objective, collapsed):
    assert collapses(is_value, oos_value, objective) is collapsed


def rows(*pairs):
    return [{"index": i, "test": ["a", "b"], "note": "", "is_score": a, "oos_score": b, "out_of_sample": {"trades": 3}}
            for i, (a, b) in enumerate(pairs)]


def test_the_warning_says_plainly_that_out_of_sample_collapsed():
    run = SimpleNamespace(settings={"objectives": ["sharpe"]})
    folds = rows((2.0, 0.1), (1.0, 0.5))
    summary = compare(folds, SHARPE)
    assert summary == {"is_mean": 1.5, "oos_mean": 0.3, "collapse": True, "folds_compared": 2}
    [text] = warnings(run, folds, summary, {"complete": 10})
    assert text.startswith("Out-of-sample performance collapses: the mean out-of-sample Sharpe (0.3) is under half "
                           "the in-sample one (1.5).")
    assert "do not trade them as they are" in text


def test_in_sample_only_and_empty_folds_are_said_too():
    run = SimpleNamespace(settings={"objectives": ["profit"]})
    only = [{"index": 0, "test": None, "note": "", "is_score": 0.2, "oos_score": None, "out_of_sample": {}}]
    assert warnings(run, only, compare(only, PROFIT), {"complete": 4})[0].startswith("In-sample only")
    quiet = rows((0.3, 0.2))
    quiet[0]["out_of_sample"] = {"trades": 0}
    assert warnings(run, quiet, compare(quiet, PROFIT), {"complete": 1, "pruned": 3}) == [
        "Fold 1 made no trade out of sample: its score says nothing.",
        "3 of 4 trials were pruned or failed (too few trades, or parameters the strategy refuses): the search space "
        "may be off."]


def test_a_folds_note_quoting_a_refusal_ends_with_one_full_stop():
    run = SimpleNamespace(settings={"objectives": ["profit"]})
    failed = rows((0.3, 0.2))
    failed[0]["note"] = ("no trial completed: 4 of 4 trials pruned or failed, most often: refused: fast must be "
                         "below slow.")
    assert warnings(run, failed, compare(failed, PROFIT), {"complete": 4})[0] == (
        "Fold 1: no trial completed: 4 of 4 trials pruned or failed, most often: refused: fast must be below slow.")


def test_stability_gives_the_coefficient_of_variation_and_the_modal_share():
    rows_ = {row["name"]: row for row in stability([{"fast": 9, "side": "long"}, {"fast": 9, "side": "long"},
                                                     {"fast": 10, "side": "both"}, {"fast": 30, "side": "long"}])}
    assert rows_["fast"]["values"] == [9, 9, 10, 30] and rows_["fast"]["modal_share"] == 0.5
    assert rows_["fast"]["cv"] == pytest.approx(8.958 / 14.5, abs=1e-4) and not rows_["fast"]["stable"]
    assert rows_["side"]["cv"] is None and rows_["side"]["stable"] and rows_["side"]["modal_share"] == 0.75


def test_the_test_windows_are_stitched_each_continuing_from_where_the_last_ended():
    first = [[1, 10_000.0], [2, 11_000.0]]
    second = [[2, 10_000.0], [3, 9_000.0]]  # starts at the minute the first ended: kept once
    assert stitch([first, second], 10_000.0) == [[1, 10_000.0], [2, 11_000.0], [3, 9_900.0]]


def test_the_balanced_pick_of_a_front_is_not_an_extreme():
    objectives = resolve(["profit_dd"])
    front = [create_trial(values=[10.0, 9.0]), create_trial(values=[6.0, 3.0]), create_trial(values=[1.0, 0.5])]
    for number, trial in enumerate(front):
        trial.number = number
    assert balanced(front, objectives).values == [6.0, 3.0]
