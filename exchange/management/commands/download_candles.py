"""``manage.py download_candles --symbol BTCUSDT --from 2026-01-01 --to 2026-01-31``: Bybit 1-minute klines
into the file cache that ``manage.py backtest --data cache`` reads. Public endpoint, no keys; resumable.
``--funding`` also fetches the funding rates of the range (``/v5/market/funding/history``), which backtests and
the paper exchange then pay instead of the assumed 0.01 % per 8 h."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.core.management import BaseCommand, CommandError

from core.progress import progress_bar
from exchange.bybit import ENDPOINTS
from exchange.bybit_http import BybitHttp
from exchange.downloader import download_candles, download_funding, funding_path
from market.errors import ExchangeError, InvalidOrderError
from market.instruments import check_symbol


def _day(value: str, *, end: bool = False) -> datetime:
    try:
        day = datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        raise CommandError(f"{value!r} is not a date such as 2026-03-24") from None
    return day + timedelta(days=1) if end else day


class Command(BaseCommand):
    help = ("Download Bybit linear 1-minute candles (public kline endpoint, pages of 1000) into "
            "TRADEBOT_DATA_DIR/candles. Pages already downloaded are kept, so an interrupted download resumes.")

    def add_arguments(self, parser):
        parser.add_argument("--symbol", required=True, help="e.g. BTCUSDT")
        parser.add_argument("--from", dest="start", required=True, help="First day (UTC), e.g. 2026-03-01.")
        parser.add_argument("--to", dest="end", required=True, help="Last day (UTC), included.")
        parser.add_argument("--dir", default=None, help="Cache root (default TRADEBOT_DATA_DIR/candles).")
        parser.add_argument("--funding", action="store_true",
                            help="Also download the funding rates of the range (kept beside the candles).")

    def handle(self, *args, symbol, start, end, dir=None, funding=False, **options):  # noqa: A002 - the option's name
        try:
            symbol = check_symbol(symbol.upper())
        except InvalidOrderError as error:
            raise CommandError(str(error)) from None
        first, last = _day(start), _day(end, end=True)
        if last <= first:
            raise CommandError("--to must not be before --from")
        root = dir or settings.DATA_DIR / "candles"
        http = BybitHttp(base_url=settings.BYBIT_BASE_URL or ENDPOINTS["live"], timeout=settings.BYBIT_TIMEOUT)
        with progress_bar(self, total=None, desc=f"{symbol} pages", unit="page", leave=False) as bar:
            def on_page(done: int, total: int) -> None:
                bar.total = total
                bar.update(done - bar.n)

            try:
                report = download_candles(http, symbol, first, last, root, on_page=on_page)
            except ExchangeError as error:
                raise CommandError(f"Bybit refused: {error} (pages fetched so far are kept; run again to "
                                   f"resume)") from None
        self.stdout.write(self.style.SUCCESS(
            f"{symbol}: {report.pages} pages of 1000 minutes, {report.fetched} fetched ({report.candles:,} candles), "
            f"{report.cached} already cached, in {report.directory}"))
        if report.missing:
            self.stdout.write(self.style.WARNING(
                f"{report.missing:,} minute(s) of the range have no candle on Bybit (a gap, or before the listing); "
                f"they stay missing: backtests report gaps, they never fill them in"))
        if funding:
            try:
                count = download_funding(http, symbol, first, last, root)
            except ExchangeError as error:
                raise CommandError(f"Bybit refused the funding history: {error}") from None
            self.stdout.write(self.style.SUCCESS(f"{symbol}: {count} funding rates in {funding_path(root, symbol)}"))
        self.stdout.write(f"backtest on them with: manage.py backtest --data cache --symbol {symbol} "
                          f"--from {start} --to {end} ...")
