"""``manage.py stream_market``: publish live prices of the followed symbols to every dashboard, until SIGTERM."""

import logging
import signal
import threading

from django.core.management import BaseCommand, CommandError
from django.db import close_old_connections

from dashboard.market_stream import MarketStreamer, wanted_symbols
from exchange.factory import get_exchange, get_market_data

logger = logging.getLogger(__name__)


class Command(BaseCommand):
    help = ("Stream the prices of subscribed symbols (POST /api/bybit/subscribe) and of active strategies to the "
            "dashboard, at most once a second per symbol. Stops on SIGTERM or Ctrl-C.")

    def add_arguments(self, parser):
        parser.add_argument("--refresh", type=float, default=10.0,
                            help="Seconds between looking for new symbols to follow (default 10).")
        parser.add_argument("--interval", type=float, default=1.0,
                            help="Least seconds between two updates of one symbol (default 1).")

    def handle(self, *args, refresh, interval, **options):
        if refresh <= 0 or interval <= 0:
            raise CommandError("--refresh and --interval must be more than 0")
        stop = threading.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
        exchange = get_exchange()
        source = getattr(get_market_data(), "label", "") if exchange.name == "paper" else exchange.name
        streamer = MarketStreamer(exchange, source=source, min_interval=interval)
        self.stdout.write(f"streaming market prices from {streamer.source}")
        next_refresh = 0.0
        try:
            while not stop.is_set():
                if streamer.clock() >= next_refresh:
                    next_refresh = streamer.clock() + refresh
                    close_old_connections()
                    try:
                        streamer.follow(wanted_symbols())
                    except Exception:  # noqa: BLE001 - an outage must not end the stream (or the bot): retry later
                        logger.exception("could not follow the wanted symbols; trying again in %.0fs", refresh)
                streamer.flush()
                stop.wait(min(0.25, interval))
        finally:
            streamer.close()
        self.stdout.write("market stream stopped")
