"""``manage.py optimise``: an Optuna study over a strategy's parameters, walk-forward, trials as Celery tasks.

    manage.py optimise --strategy 1 --symbols BTCUSDT,ETHUSDT --from 2026-03-24 --to 2026-04-20 --trials 300 \\
        --objective sharpe --walk-forward 5 --test-share 0.2 --min-trades 20 --space fast=5:50 slow=20:200
    manage.py optimise --strategy 1 --objective profit_dd --trials 200          # a Pareto front (NSGA-II)
    manage.py optimise --strategy 1 --sampler grid --space fast=5:50:5 slow=20:200:20 --local 2
    manage.py optimise --show 7 | --resume 7 | --apply 7 --trial 41 [--fold 5]
"""

from __future__ import annotations

import json
import time
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.core.management import BaseCommand, CommandError

from core.errors import Refused
from core.progress import progress_bar
from core.tables import print_table
from trades.backtest import costs
from trades.backtest.data import BUNDLED, CACHE
from trades.management.commands.backtest import parse_decimal, parse_moment
from trades.optimise import local, objectives, study
from trades.optimise.commands import StudyRequest, apply_parameters, launch_study, resume_study
from trades.optimise.folds import MAX_FOLDS
from trades.optimise.models import OptimisationRun
from trades.optimise.report import score_label
from trades.optimise.space import parse_items
from trades.optimise.trials import best_so_far

POLL_SECONDS = 0.5
IDLE_HINT_SECONDS = 15


class Command(BaseCommand):
    requires_system_checks = []
    help = ("Optimise a strategy's parameters with Optuna (studies stored in the project's database), optionally "
            "walk-forward (each fold optimised on its train window, scored on the unseen test window after it). "
            "Trials run as Celery tasks on every worker sharing the database and the broker (--local: in this "
            "process). With several symbols each trial backtests every one separately with the same parameters; "
            "the objective sums profits, averages ratios (Sharpe, Sortino, Calmar) and takes the worst drawdown.")

    def add_arguments(self, parser):
        what = parser.add_mutually_exclusive_group(required=True)
        what.add_argument("--strategy", type=int, metavar="ID", help="Optimise this saved strategy.")
        what.add_argument("--show", type=int, metavar="RUN", help="Print an optimisation's report.")
        what.add_argument("--resume", type=int, metavar="RUN", help="Queue again what a running study waits for "
                                                                    "(after a broker restart), and follow it.")
        what.add_argument("--apply", type=int, metavar="RUN", help="Make --trial's parameters a new strategy.")
        parser.add_argument("--trial", type=int, help="With --apply: the trial number.")
        parser.add_argument("--fold", type=int, help="With --apply: the fold (from 1; default the last).")
        parser.add_argument("--symbols", help="Comma-separated, e.g. BTCUSDT,ETHUSDT. Default: the strategy's.")
        parser.add_argument("--from", dest="start", help="First day (UTC). Default: the data's, after the warm-up.")
        parser.add_argument("--to", dest="end", help="Last day (UTC, included). Default: the data's.")
        parser.add_argument("--trials", type=int, default=100, help="Trials per fold (default 100; a grid runs "
                                                                    "every cell).")
        parser.add_argument("--sampler", choices=study.SAMPLERS, help="Default: tpe; nsga2 with several objectives.")
        parser.add_argument("--objective", nargs="+", default=["sharpe"], choices=objectives.CHOICES,
                            help="sharpe (default), sortino, calmar, profit, drawdown, or several (profit_dd is "
                                 "profit and drawdown): a Pareto front.")
        parser.add_argument("--walk-forward", type=int, default=0, metavar="FOLDS",
                            help=f"Walk-forward folds (1..{MAX_FOLDS}); default: none (in-sample only).")
        parser.add_argument("--test-share", type=float, default=0.2, help="Share of each fold tested (default 0.2).")
        parser.add_argument("--anchored", action="store_true", help="Train each fold from the start (default: "
                                                                    "rolling windows).")
        parser.add_argument("--min-trades", type=int, default=10,
                            help="Trials with fewer trades (all symbols) are pruned (default 10).")
        parser.add_argument("--space", nargs="+", default=[], metavar="NAME=LOW:HIGH[:STEP]",
                            help="Search only these, over these ranges (a choice: name=a,b); a risk setting too "
                                 "(stop_loss_percentage=0.5:3:0.1). Default: every declared parameter.")
        parser.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                            help="Pin a declared parameter for the run (repeat for more).")
        parser.add_argument("--data", default=BUNDLED, choices=[BUNDLED, CACHE], help="Candles (default bundled).")
        parser.add_argument("--balance", default=str(costs.INITIAL_BALANCE), help="Starting USDT per symbol.")
        parser.add_argument("--fee", default=str(costs.FEE_PERCENT), help="Taker fee per side in percent.")
        parser.add_argument("--slippage-bps", default=str(costs.SLIPPAGE_BPS), help="Slippage in basis points.")
        parser.add_argument("--seed", type=int, help="Seed the samplers (reproducible on one worker).")
        parser.add_argument("--local", type=int, nargs="?", const=1, default=0, metavar="PROCESSES",
                            help="Run the trials in this many processes here instead of waiting for Celery "
                                 "workers (which still share them if running).")
        parser.add_argument("--no-wait", action="store_true", help="Launch and return (follow it on the page).")
        parser.add_argument("--user", help="Act as this user (their permissions apply). Default: the console.")
        parser.add_argument("--json", action="store_true", help="Print the report as JSON.")

    def handle(self, *args, **options):
        user = self._user(options["user"])
        try:
            if options["show"] is not None:
                return self._report(_run(options["show"]), options)
            if options["apply"] is not None:
                return self._apply(user, options)
            if options["resume"] is not None:
                self.stdout.write(f"{resume_study(user, options['resume'])} trial(s) queued again.")
                run = _run(options["resume"])
            else:
                run = launch_study(user, self._request(options))
                self._launched(run)
            if options["no_wait"]:
                return None
            self._follow(run, options["local"])
            return self._report(_run(run.pk), options)
        except Refused as refused:
            raise CommandError(refused.message) from None

    def _user(self, username: str | None):
        if username is None:
            return None
        found = get_user_model().objects.filter(username=username).first()
        if found is None:
            raise CommandError(f"No user named {username!r}.")
        return found

    def _request(self, options) -> StudyRequest:
        if options["trial"] is not None or options["fold"] is not None:
            raise CommandError("--trial and --fold go with --apply.")
        return StudyRequest(
            strategy_id=options["strategy"],
            symbols=[s for s in (options["symbols"] or "").replace(" ", "").split(",") if s],
            start=parse_moment(options["start"]) if options["start"] else None,
            end=parse_moment(options["end"], end=True) if options["end"] else None,
            trials=options["trials"], sampler=options["sampler"] or "", objectives=options["objective"],
            walk_forward=options["walk_forward"], test_share=options["test_share"], anchored=options["anchored"],
            min_trades=options["min_trades"], ranges=parse_items(options["space"], "--space"),
            pins=parse_items(options["param"], "--param"), source=options["data"],
            initial_balance=parse_decimal(options["balance"], "--balance", minimum=Decimal("1")),
            fee_rate=parse_decimal(options["fee"], "--fee") / 100,
            slippage_bps=parse_decimal(options["slippage_bps"], "--slippage-bps"), seed=options["seed"])

    def _launched(self, run: OptimisationRun) -> None:
        settings_ = run.settings
        folds = run.folds.count()
        self.stdout.write(
            f"optimisation #{run.pk}: {run.name} ({run.strategy_type}, {run.timeframe}m) on {', '.join(run.symbols)}, "
            f"{run.start:%Y-%m-%d %H:%M} to {run.end:%Y-%m-%d %H:%M} UTC; {settings_['trials']} trials x {folds} "
            f"fold(s), {settings_['sampler']}, objective {', '.join(settings_['objectives'])}; "
            f"searching {settings_['space_text']}")
        if settings_.get("note"):
            self.stderr.write(settings_["note"], style_func=self.style.WARNING)

    def _follow(self, run: OptimisationRun, processes: int) -> None:
        children = local.start(run.pk, processes) if processes else []
        started, hinted = time.monotonic(), False
        with progress_bar(self, total=run.trials_total, desc="trials", unit="trial", leave=False) as bar:
            while True:
                current = OptimisationRun.objects.get(pk=run.pk)
                bar.update(current.trials_done - bar.n)
                fold = current.folds.filter(status="running").order_by("index").first()
                best = best_so_far(current, fold) if fold else None
                if best:
                    bar.set_postfix_str(f"fold {fold.index + 1} best {best['objective']} {best['value']:.4g}",
                                        refresh=False)
                if current.finished:
                    break
                if not hinted and not processes and current.trials_done == 0 and \
                        time.monotonic() - started > IDLE_HINT_SECONDS:
                    hinted = True
                    bar.clear()
                    self.stderr.write("No worker has taken a trial yet: start one (celery -A tradebot worker), or "
                                      "run with --local (Ctrl-C leaves the study queued; --resume follows it again).")
                time.sleep(POLL_SECONDS)
        for child in children:
            child.join()

    def _apply(self, user, options) -> None:
        if options["trial"] is None:
            raise CommandError("--apply needs --trial (the trial's number, as the report lists it).")
        fold = None if options["fold"] is None else options["fold"] - 1
        strategy = apply_parameters(user, options["apply"], options["trial"], fold)
        self.stdout.write(self.style.SUCCESS(
            f"strategy #{strategy.pk} {strategy.name!r} made (inactive) with {strategy.indicators}; "
            f"{strategy.derived_from.name!r} is kept as it was."))

    def _report(self, run: OptimisationRun, options) -> None:
        if options["json"]:
            self.stdout.write(json.dumps({"id": run.pk, "status": run.status, "error": run.error,
                                          "settings": run.settings, "results": run.results}, indent=2, default=str))
            return
        if run.status == OptimisationRun.Status.FAILED:
            raise CommandError(f"optimisation #{run.pk} failed: {run.error}")
        if run.status != OptimisationRun.Status.DONE:
            self.stdout.write(f"optimisation #{run.pk} is {run.status}: {run.trials_done}/{run.trials_total} trials.")
            return
        results = run.results
        self.stdout.write(f"\noptimisation #{run.pk}: {run.name} on {', '.join(run.symbols)}; trials "
                          + ", ".join(f"{count} {name}" for name, count in results["trials"].items()))
        self._folds(results)
        self._stability(results["stability"])
        self._pareto(results["pareto"], results["objectives"])
        curve = results["oos_curve"]
        if curve:
            balance = float(run.settings["costs"]["initial_balance"])
            self.stdout.write(f"stitched out-of-sample return: {(curve[-1][1] / balance - 1) * 100:.2f}% "
                              f"({_day(results['folds'][0]['test'][0])} to {_day(results['folds'][-1]['test'][1])})")
        for warning in results["warnings"]:
            self.stdout.write(self.style.WARNING(f"warning: {warning}"))
        last = next((row for row in reversed(results["folds"]) if row["trial"] is not None), None)
        if last is not None:
            self.stdout.write(f"apply: manage.py optimise --apply {run.pk} --trial {last['trial']} "
                              f"--fold {last['index'] + 1}")

    def _folds(self, results: dict) -> None:
        score = results["score"]
        rows = []
        for row in results["folds"]:
            test = f"{_day(row['test'][0])} to {_day(row['test'][1])}" if row["test"] else "-"
            rows.append((str(row["index"] + 1), f"{_day(row['train'][0])} to {_day(row['train'][1])}", test,
                         "-" if row["trial"] is None else str(row["trial"]),
                         " ".join(f"{k}={v}" for k, v in row["params"].items()) or row["note"],
                         _num(row["is_score"]), _num(row["oos_score"]),
                         str(row["in_sample"].get("trades", "-")), str(row["out_of_sample"].get("trades", "-"))))
        self.stdout.write("")
        print_table(self.stdout, ("fold", "train (UTC)", "test (UTC)", "trial", "parameters", f"IS {score}",
                                  f"OOS {score}", "IS trades", "OOS trades"), rows, right={0, 3, 5, 6, 7, 8})
        summary = results["summary"]
        if summary["folds_compared"]:
            self.stdout.write(f"mean {score}: in-sample {_num(summary['is_mean'])}, out-of-sample "
                              f"{_num(summary['oos_mean'])} over {summary['folds_compared']} fold(s)")

    def _stability(self, rows: list[dict]) -> None:
        if not rows:
            return
        self.stdout.write("")
        print_table(self.stdout, ("parameter", "chosen per fold", "CV", "same as most", "verdict"),
                    [(row["name"], " ".join(map(str, row["values"])), _num(row["cv"]),
                      f"{row['modal_share'] * 100:.0f}%", "stable" if row["stable"] else "varies") for row in rows],
                    right={2, 3})

    def _pareto(self, front: list[dict], names: list[str]) -> None:
        if not front:
            return
        self.stdout.write("\nPareto front (last fold):")
        labels = [score_label(objectives.OBJECTIVES[name]) if name != "profit" else "return %" for name in names]
        print_table(self.stdout, ("trial", *labels, "parameters"),
                    [(str(item["trial"]), *(_num(v) for v in item["values"]),
                      " ".join(f"{k}={v}" for k, v in item["params"].items())) for item in front],
                    right=set(range(len(names) + 1)))


def _run(run_id: int) -> OptimisationRun:
    run = OptimisationRun.objects.filter(pk=run_id).first()
    if run is None:
        raise CommandError(f"No optimisation with id {run_id}.")
    return run


def _day(iso: str) -> str:
    return iso[:16].replace("T", " ")


def _num(value) -> str:
    return "-" if value is None else f"{value:.4g}"
