"""Historical 1-minute candles from Bybit's public kline endpoint, into a resumable file cache.

Bybit answers at most 1000 candles a call, so the range is cut into pages of 1000 minutes aligned on
the epoch (page ``k`` covers minutes ``[k*1000, (k+1)*1000)``): the same page always has the same
file, whatever range was asked for. A page that lies wholly in the past is final and is written once
(``<page start ms>.csv``, through a temporary file and a rename, so an interrupted download leaves no
half page); a page reaching into the present is kept as ``.partial.csv`` and fetched again next time.
A download that stops half way therefore resumes where it stopped. Missing minutes are kept missing:
the exchange's gaps are reported by ``trades.backtest.data``, never filled in.
"""

from __future__ import annotations

import csv
import gzip
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path

from exchange import bybit_parse as parse
from exchange.bybit_http import BybitHttp
from market.instruments import check_symbol

logger = logging.getLogger(__name__)

PAGE = 1000  # Bybit's largest kline page
MINUTE_MS = 60_000
PAGE_MS = PAGE * MINUTE_MS
HEADER = ["timestamp_ms", "open", "high", "low", "close", "volume"]
FUNDING_PAGE = 200  # Bybit's largest funding-history page
FUNDING_HEADER = ["timestamp_ms", "funding_rate"]


@dataclass
class DownloadReport:
    symbol: str
    directory: Path
    pages: int = 0
    fetched: int = 0  # pages asked of the exchange
    cached: int = 0  # pages already final in the cache
    candles: int = 0  # candles written by this download
    missing: int = 0  # closed minutes of the range that the exchange has no candle for (gaps, or before listing)


def cache_directory(root: Path, symbol: str) -> Path:
    return Path(root) / check_symbol(symbol) / "1m"


def page_starts(start_ms: int, end_ms: int) -> list[int]:
    """The epoch-aligned pages covering ``[start_ms, end_ms)``."""
    if end_ms <= start_ms:
        return []
    return list(range(start_ms // PAGE_MS * PAGE_MS, end_ms, PAGE_MS))


def download_candles(http: BybitHttp, symbol: str, start: datetime, end: datetime, root: Path, *,
                     now: Callable[[], datetime] = lambda: datetime.now(UTC),
                     on_page: Callable[[int, int], None] | None = None) -> DownloadReport:
    """Fill the cache for ``symbol`` over ``[start, end)``; ``on_page(done, total)`` after each page."""
    directory = cache_directory(root, symbol)
    directory.mkdir(parents=True, exist_ok=True)
    pages = page_starts(_ms(start), _ms(end))
    report = DownloadReport(symbol=symbol, directory=directory, pages=len(pages))
    for done, page in enumerate(pages, start=1):
        final = directory / f"{page}.csv"
        if final.exists():
            report.cached += 1
        else:
            report.candles += _fetch_page(http, symbol, page, directory, now_ms=_ms(now()))
            report.fetched += 1
        if on_page is not None:
            on_page(done, len(pages))
    report.missing = _missing_minutes(directory, pages, _ms(start), min(_ms(end), _ms(now()) // MINUTE_MS * MINUTE_MS))
    logger.info("candles downloaded", extra={"symbol": symbol, "pages": report.pages, "fetched": report.fetched,
                                             "cached": report.cached})
    return report


def _fetch_page(http: BybitHttp, symbol: str, page: int, directory: Path, *, now_ms: int) -> int:
    result = http.call("get_kline", category="linear", symbol=symbol, interval="1", start=page,
                       end=page + PAGE_MS - MINUTE_MS, limit=PAGE)
    closed_by = now_ms // MINUTE_MS * MINUTE_MS  # the candle of the current minute is still open
    rows = {}
    for candle in parse.candles(result):
        start_ms = parse.datetime_to_ms(candle.start)
        if page <= start_ms < page + PAGE_MS and start_ms + MINUTE_MS <= closed_by:
            rows[start_ms] = [start_ms, candle.open, candle.high, candle.low, candle.close, candle.volume]
    final = page + PAGE_MS <= closed_by
    target = directory / (f"{page}.csv" if final else f"{page}.partial.csv")
    temporary = target.with_suffix(".tmp")
    with temporary.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        writer.writerows(rows[key] for key in sorted(rows))
    os.replace(temporary, target)
    if final:
        (directory / f"{page}.partial.csv").unlink(missing_ok=True)
    return len(rows)


def _missing_minutes(directory: Path, pages: list[int], start_ms: int, end_ms: int) -> int:
    present = 0
    for page in pages:
        for name in (f"{page}.csv", f"{page}.partial.csv"):
            path = directory / name
            if path.exists():
                with path.open() as handle:
                    present += sum(1 for row in csv.reader(handle)
                                   if row[0].isdigit() and start_ms <= int(row[0]) < end_ms)
                break
    return max(0, (end_ms - start_ms) // MINUTE_MS - present)


def _ms(moment: datetime) -> int:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


# Funding history ------------------------------------------------------------------------------------------

def funding_path(root: Path, symbol: str) -> Path:
    """Where a symbol's funding rates are kept: beside its candles, ``<SYMBOL>_funding.csv.gz``."""
    return Path(root) / f"{check_symbol(symbol)}_funding.csv.gz"


def download_funding(http: BybitHttp, symbol: str, start: datetime, end: datetime, root: Path) -> int:
    """The funding rates settled in ``[start, end)`` from Bybit's public ``/v5/market/funding/history`` (pages of
    200, newest first, so it pages backwards by ``endTime``), merged into ``funding_path`` with what is there
    already. Returns how many rates the file holds now."""
    rates = read_funding(funding_path(root, symbol))
    first, until = _ms(start), _ms(end) - 1
    while until >= first:
        result = http.call("get_funding_rate_history", category="linear", symbol=symbol, startTime=first,
                           endTime=until, limit=FUNDING_PAGE)
        rows = [(int(row["fundingRateTimestamp"]), Decimal(row["fundingRate"])) for row in result.get("list") or []]
        rows = [(time, rate) for time, rate in rows if first <= time <= until]
        rates.update(rows)
        if len(rows) < FUNDING_PAGE:
            break
        until = min(time for time, _ in rows) - 1
    write_funding(funding_path(root, symbol), rates)
    logger.info("funding downloaded", extra={"symbol": symbol, "rates": len(rates)})
    return len(rates)


def read_funding(path: Path) -> dict[int, Decimal]:
    """Funding rates by settlement time (epoch ms) from a file ``download_funding`` wrote; {} when there is none.
    A row that cannot be read is skipped: a missing rate is assumed (``market.funding``), never invented."""
    if not Path(path).is_file():
        return {}
    rates = {}
    with gzip.open(path, "rt", newline="") as handle:
        for row in csv.reader(handle):
            try:
                rates[int(row[0])] = Decimal(row[1])
            except (ValueError, IndexError, InvalidOperation):
                continue  # the header, or a damaged line
    return rates


def write_funding(path: Path, rates: dict[int, Decimal]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    with gzip.open(temporary, "wt", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(FUNDING_HEADER)
        writer.writerows([time, rates[time]] for time in sorted(rates))
    os.replace(temporary, path)
