"""Print the README's settings table from ``tradebot.config.SETTINGS`` (a test keeps them equal)."""

from django.core.management import BaseCommand

from tradebot.config import SETTINGS


def settings_table() -> str:
    rows = ["| Variable | Default | What it does |", "|---|---|---|"]
    for setting in SETTINGS:
        secret = " **Secret**: never logged or shown." if setting.secret else ""
        rows.append(f"| `{setting.name}` | `{setting.default}` | {setting.help}{secret} |")
    return "\n".join(rows)


class Command(BaseCommand):
    help = "Print the Markdown table of every environment setting."

    def handle(self, *args, **options):
        self.stdout.write(settings_table())
