"""What an optimisation stores: the run the pages and the API show, its folds, one row per trial slot, and each
"Apply" that turned a trial into a strategy.

Optuna keeps its studies in its own tables (``trades.optimise.study``); these rows say what the bot asked for and
what came of it. A ``TrialSlot`` is the idempotency record of the distribution: slot *s* of fold *f* is one trial,
asked once (its Optuna trial number is stored before the backtest starts), so a task delivered twice, or taken over
from a worker that died, re-runs that same trial instead of asking a new one.
"""

from django.conf import settings as django_settings
from django.db import models
from django.db.models import Q
from django.urls import reverse


class OptimisationRun(models.Model):
    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    strategy = models.ForeignKey("strategies.Strategy", null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="optimisations", help_text="Empty once the strategy is deleted.")
    name = models.CharField(max_length=255, help_text="The strategy's name when the run was made.")
    strategy_type = models.CharField(max_length=100)
    timeframe = models.CharField(max_length=10)
    symbols = models.JSONField(default=list)
    start = models.DateTimeField(help_text="First minute of the whole range (inclusive).")
    end = models.DateTimeField(help_text="End of the whole range (exclusive).")
    settings = models.JSONField(default=dict, help_text="Objectives, sampler, trials, folds, search space, the "
                                                        "strategy's settings and the costs, as launched.")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RUNNING, db_index=True)
    progress = models.PositiveSmallIntegerField(default=0, help_text="Percent of the trials done.")
    trials_total = models.PositiveIntegerField(default=0)
    trials_done = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True, default="")
    results = models.JSONField(default=dict, help_text="The report: folds, stability, stitched out-of-sample "
                                                       "equity, warnings, the Pareto front.")
    created_by = models.ForeignKey(django_settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+", help_text="Empty when launched from manage.py.")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "optimisation_runs"
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(status__in=["running", "done", "failed"]),
                                   name="optimisation_status_known", violation_error_message="Unknown status."),
            models.CheckConstraint(condition=Q(end__gt=models.F("start")), name="optimisation_range_not_empty",
                                   violation_error_message="The end must be after the start."),
        ]

    def __str__(self):
        return f"optimisation {self.pk} {self.name} [{self.status}]"

    def get_absolute_url(self):
        return reverse("backtest-optimise-detail", args=[self.pk])

    @property
    def finished(self) -> bool:
        return self.status in (self.Status.DONE, self.Status.FAILED)

    @property
    def objectives(self) -> list[str]:
        return list(self.settings.get("objectives", []))


class OptimisationFold(models.Model):
    """One train window optimised (its own Optuna study) and, in a walk-forward, the unseen test window after it."""

    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        DONE = "done", "Done"

    run = models.ForeignKey(OptimisationRun, on_delete=models.CASCADE, related_name="folds")
    index = models.PositiveSmallIntegerField()
    study_name = models.CharField(max_length=200, unique=True)
    train_start = models.DateTimeField()
    train_end = models.DateTimeField()
    test_start = models.DateTimeField(null=True, blank=True, help_text="Empty: no test window (in-sample only).")
    test_end = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RUNNING)
    chosen_trial = models.IntegerField(null=True, blank=True, help_text="The trial scored on the test window.")
    chosen_params = models.JSONField(default=dict)
    in_sample = models.JSONField(default=dict, help_text="The chosen trial's figures on the train window.")
    out_of_sample = models.JSONField(default=dict, help_text="Its figures on the test window.")
    oos_curve = models.JSONField(default=list, help_text="[time ms, equity] on the test window, from the balance.")
    pareto = models.JSONField(default=list, help_text="Multi-objective: the trials of the front.")
    note = models.TextField(blank=True, default="", help_text="Why there is no chosen trial, when there is none.")

    class Meta:
        db_table = "optimisation_folds"
        ordering = ["run", "index"]
        constraints = [models.UniqueConstraint(fields=["run", "index"], name="optimisation_fold_once")]

    def __str__(self):
        return f"fold {self.index} of optimisation {self.run_id}"


class TrialSlot(models.Model):
    """Slot ``number`` of a fold: exactly one trial of its study, however often its task is delivered."""

    class State(models.TextChoices):
        NEW = "new", "New"
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"

    class Outcome(models.TextChoices):
        COMPLETE = "complete", "Complete"
        PRUNED = "pruned", "Pruned"  # too few trades, or parameters the class refuses: scored as failed, with why
        FAILED = "failed", "Failed"  # the backtest itself raised

    run = models.ForeignKey(OptimisationRun, on_delete=models.CASCADE, related_name="slots")
    fold = models.ForeignKey(OptimisationFold, on_delete=models.CASCADE, related_name="slots")
    number = models.PositiveIntegerField()
    state = models.CharField(max_length=10, choices=State.choices, default=State.NEW)
    trial_number = models.IntegerField(null=True, blank=True, help_text="Optuna's, once asked.")
    params = models.JSONField(default=dict)
    worker = models.CharField(max_length=255, blank=True, default="", help_text="The Celery worker that ran it.")
    host = models.CharField(max_length=255, blank=True, default="")
    pid = models.IntegerField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0, help_text="Times a worker took it (more than 1: "
                                                                     "taken over from one that died).")
    queued_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True, help_text="Last sign of life of its worker.")
    finished_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=10, choices=Outcome.choices, blank=True, default="")
    values = models.JSONField(default=list, help_text="The objective values told to Optuna.")
    metrics = models.JSONField(default=dict, help_text="Figures on the train window, every symbol combined.")
    reason = models.TextField(blank=True, default="", help_text="Why it was pruned or failed.")

    class Meta:
        db_table = "optimisation_trial_slots"
        ordering = ["run", "fold", "number"]
        constraints = [models.UniqueConstraint(fields=["fold", "number"], name="optimisation_slot_once")]
        indexes = [models.Index(fields=["run", "state"], name="optimisation_slot_state")]

    def __str__(self):
        return f"slot {self.number} of fold {self.fold_id} [{self.state}]"


class AppliedTrial(models.Model):
    """An "Apply": a trial's parameters made into a new strategy version (the old strategy kept, untouched)."""

    run = models.ForeignKey(OptimisationRun, on_delete=models.CASCADE, related_name="applied")
    fold_index = models.PositiveSmallIntegerField()
    trial_number = models.IntegerField()
    parameters = models.JSONField(default=dict)
    strategy = models.ForeignKey("strategies.Strategy", null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="+", help_text="The new strategy (empty once deleted).")
    strategy_name = models.CharField(max_length=255)
    applied_by = models.ForeignKey(django_settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    applied_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "optimisation_applied"
        ordering = ["-applied_at", "-id"]

    def __str__(self):
        return f"trial {self.fold_index}.{self.trial_number} of optimisation {self.run_id} as {self.strategy_name}"
