"""``manage.py sync``: reconcile the database with the exchange and print what changed."""

from django.core.management import BaseCommand

from trades.tasks import settle_with_exchange


class Command(BaseCommand):
    help = "Settle pending trades by their orderLinkId, record closed positions, report unknown positions."

    def handle(self, *args, **options):
        lines = settle_with_exchange()
        for line in lines:
            self.stdout.write(line)
        self.stdout.write(f"{len(lines)} change(s)" if lines else "Database and exchange agree: nothing to do.")
