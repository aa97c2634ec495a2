"""Apply: a trial's parameters become a new, inactive strategy derived from the old one, which is kept; who applied
what is recorded."""

from __future__ import annotations

from decimal import Decimal

import pytest

from core.errors import Conflict, Forbidden, NotFound
from strategies.models import Strategy
from trades.optimise.commands import apply_parameters
from trades.optimise.models import AppliedTrial, TrialSlot

pytestmark = pytest.mark.django_db


@pytest.fixture
def finished(launched):
    return launched(walk_forward=2, test_share=0.4, trials=2,
                    ranges={"fast": "5:12", "slow": "30:60", "stop_loss_percentage": "0.5:1.5:0.25"})


def test_apply_makes_a_new_inactive_strategy_and_keeps_the_old_one(finished, ema, make_member):
    fold = finished.folds.get(index=1)
    slot = TrialSlot.objects.get(fold=fold, trial_number=fold.chosen_trial)
    before = Strategy.objects.filter(pk=ema.pk).values().get()
    person = make_member("quant", "strategist")

    made = apply_parameters(person, finished.pk, fold.chosen_trial)

    assert made.name == f"ema cross (opt #{finished.pk}/2.{fold.chosen_trial})"
    assert (made.is_active, made.derived_from, made.type, made.timeframe) == (False, ema, "ema_crossover", "15")
    assert made.indicators == {"fast": slot.params["fast"], "slow": slot.params["slow"]}
    assert made.stop_loss_percentage == Decimal(str(slot.params["stop_loss_percentage"])).quantize(Decimal("0.01"))
    assert "Applied by quant" in made.derivation_note and f"optimisation #{finished.pk}, fold 2" in made.derivation_note
    assert Strategy.objects.filter(pk=ema.pk).values().get() == before  # untouched
    audit = AppliedTrial.objects.get()
    assert (audit.run, audit.fold_index, audit.trial_number, audit.strategy, audit.applied_by) == (
        finished, 1, fold.chosen_trial, made, person)


def test_the_same_trial_twice_a_pruned_one_or_a_missing_one_is_refused(finished, launched):
    fold = finished.folds.get(index=0)
    apply_parameters(None, finished.pk, fold.chosen_trial, fold=0)
    with pytest.raises(Conflict, match="applied before"):
        apply_parameters(None, finished.pk, fold.chosen_trial, fold=0)
    with pytest.raises(NotFound, match="has no trial 99 in fold 1"):
        apply_parameters(None, finished.pk, 99, fold=0)
    pruned = launched(min_trades=100_000, trials=1)
    with pytest.raises(Conflict, match=r"did not complete \(pruned: .* fewer than the minimum"):
        apply_parameters(None, pruned.pk, 0)
    assert Strategy.objects.filter(derived_from__isnull=False).count() == 1


def test_applying_needs_the_permission_to_add_strategies(finished, make_member):
    with pytest.raises(Forbidden, match="Can add strategy"):
        apply_parameters(make_member("eyes", "viewer"), finished.pk, 0, fold=0)
    assert not AppliedTrial.objects.exists()
