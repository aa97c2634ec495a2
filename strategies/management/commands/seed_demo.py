"""Demo strategies for a fresh paper-trading install, so the first ``make run`` shows trades within minutes."""

from decimal import Decimal

from django.conf import settings
from django.core.management import BaseCommand

from strategies.models import Strategy

DEMO = [
    # Active: trend following on 1-minute candles fires a few times an hour on the bundled data (the replay
    # starts where SOL, ETH and BTC cross within the first ten minutes).
    {"name": "Demo trend (paper)", "type": "trend_following", "is_active": True, "timeframe": "1",
     "risk_percentage": Decimal("1"), "stop_loss_percentage": Decimal("0.5"), "take_profit_percentage": Decimal("1"),
     "max_positions": 3},
    {"name": "Demo scalper (paper)", "type": "scalping", "is_active": False, "timeframe": "1",
     "risk_percentage": Decimal("0.5"), "stop_loss_percentage": Decimal("0.3"),
     "take_profit_percentage": Decimal("0.6"), "max_positions": 3},
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
