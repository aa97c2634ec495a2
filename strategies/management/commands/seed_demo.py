"""Demo strategies for a fresh paper-trading install, so the first ``make run`` shows trades within minutes."""

from decimal import Decimal

from django.conf import settings
from django.core.management import BaseCommand

from strategies.models import Strategy

# Sized so that max_positions entries fit in the paper account's margin at once (trades.risk.entry_budget): an
# entry risks 0.5% of the equity with a 0.5% stop, a notional of the whole equity, which 5x leverage turns into a
# fifth of it in margin; three positions hold 60%. (At 1x the first entry took the whole account and every later
# signal was skipped for want of margin.)
DEMO = [
    # Active: trend following on 1-minute candles fires a few times an hour on the bundled data (the replay
    # starts where SOL, ETH and BTC cross within the first ten minutes).
    {"name": "Demo trend (paper)", "type": "trend_following", "is_active": True, "timeframe": "1",
     "risk_percentage": Decimal("0.5"), "stop_loss_percentage": Decimal("0.5"),
     "take_profit_percentage": Decimal("1"), "leverage": Decimal("5"), "max_positions": 3},
    {"name": "Demo scalper (paper)", "type": "scalping", "is_active": False, "timeframe": "1",
     "risk_percentage": Decimal("0.3"), "stop_loss_percentage": Decimal("0.3"),
     "take_profit_percentage": Decimal("0.6"), "leverage": Decimal("5"), "max_positions": 3},
]


class Command(BaseCommand):
    help = "Create the demo strategies when the database has no strategy yet (paper trading only)."

    def handle(self, *args, **options):
        if settings.EXCHANGE_MODE != "paper":
            self.stdout.write("Not paper trading: no demo strategies created.")
            return
        if Strategy.objects.exists():
            return
        for values in DEMO:
            Strategy.objects.create(symbols=["BTCUSDT", "ETHUSDT", "SOLUSDT"], **values)
        self.stdout.write("Created the demo strategies: 'Demo trend (paper)' is active on BTC, ETH and SOL "
                          "(1-minute candles); deactivate or edit it in the admin.")
