"""``manage.py run_cycle [--strategy ID] [--dry]``: one cycle now, in this process, with a table of decisions."""

from django.core.management import BaseCommand, CommandError

from core.tables import print_table
from strategies.models import Strategy
from trades.models import CycleRun
from trades.runner import run_strategies, start_run
from trades.tasks import settle_with_exchange


class Command(BaseCommand):
    help = "Run one trading cycle now and print every decision (LONG/SHORT/HOLD, outcome, why)."

    def add_arguments(self, parser):
        parser.add_argument("--strategy", type=int, action="append", dest="strategies", metavar="ID",
                            help="Only this strategy (repeatable). Default: every active strategy.")
        parser.add_argument("--dry", action="store_true", help="Decide, size and print, but place no order.")

    def handle(self, *args, strategies=None, dry=False, **options):
        queryset = Strategy.objects.filter(pk__in=strategies) if strategies else Strategy.objects.filter(is_active=True)
        chosen = list(queryset.order_by("name"))
        if strategies and len(chosen) != len(set(strategies)):
            missing = sorted(set(strategies) - {s.pk for s in chosen})
            raise CommandError(f"No strategy with id {', '.join(map(str, missing))}.")
        if not chosen:
            raise CommandError("No active strategy: activate one in the admin or the API, or pass --strategy ID.")
        if not dry:
            for line in settle_with_exchange():
                self.stdout.write(f"reconciled: {line}")
        run = None if dry else start_run("manual")
        report = run_strategies(chosen, run=run, dry_run=dry)
        if run is not None:
            CycleRun.objects.filter(pk=run.pk).update(
                status=CycleRun.Status.FAILED if report.errors else CycleRun.Status.OK)
        rows = [(pair.strategy.name, pair.symbol,
                 f"{pair.signal.candle_time:%m-%d %H:%M}" if pair.signal else "-", pair.action, pair.outcome, pair.why)
                for pair in report.pairs]
        print_table(self.stdout, ("strategy", "symbol", "candle", "signal", "outcome", "why"), rows)
        summary = f"{len(report.pairs)} pairs, {report.orders} orders{' (dry run: none sent)' if dry else ''}"
        if report.balance:
            summary += f", equity {report.balance.equity:.2f} {report.balance.coin}"
        for error in report.errors:
            self.stderr.write(f"error: {error}")
        self.stdout.write(summary)
