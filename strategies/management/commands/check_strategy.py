"""``manage.py check_strategy KEY``: does the strategy read the future, and is its warm-up long enough?

Runs ``strategies.sdk.lookahead.check`` on the bundled candles of ``--symbol`` (the check activation runs, on
BTCUSDT), prints the report and remembers the verdict (``list_strategies`` shows it). Exit code 1 when it fails.
"""

from __future__ import annotations

import json

from django.core.management import BaseCommand, CommandError

from strategies import catalogue
from strategies.checks import GATE_SYMBOL, check_strategy, record


class Command(BaseCommand):
    help = "Check a strategy class for look-ahead and a too-short warm-up on the bundled candles."
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument("key", help="The strategy class's key (manage.py list_strategies lists them).")
        parser.add_argument("--parameters", default="{}", help='Parameter values as JSON, e.g. \'{"fast": 12}\'.')
        parser.add_argument("--symbol", default=GATE_SYMBOL, help=f"Bundled candles to run on (default {GATE_SYMBOL}).")

    def handle(self, *args, **options):
        key, parameters = options["key"], _parameters(options["parameters"])
        catalogue.refresh()  # a file saved a moment ago is the one checked
        try:
            report = check_strategy(key, parameters, symbol=options["symbol"])
        except LookupError as missing:
            raise CommandError(f"{missing}; known classes: {', '.join(catalogue.known_types())}") from None
        record(key, parameters, options["symbol"], report)
        self.stdout.write(report.text())
        if not report.passed:
            raise CommandError(report.summary(), returncode=1)


def _parameters(text: str) -> dict:
    try:
        values = json.loads(text)
    except json.JSONDecodeError as error:
        raise CommandError(f"--parameters is not JSON: {error}") from None
    if not isinstance(values, dict):
        raise CommandError('--parameters must be a JSON object, e.g. \'{"fast": 12}\'')
    return values
