"""``download_candles`` through the real pybit client against the fake Bybit server: pages of 1000, resumable."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command

from exchange.bybit_http import BybitHttp
from exchange.downloader import PAGE_MS, download_candles, page_starts
from market.types import Candle
from trades.backtest.data import CACHE, load_candles

START = datetime(2026, 2, 28, 12, 0, tzinfo=UTC)


def pages_between(start: datetime, end: datetime) -> int:
    return len(page_starts(int(start.timestamp() * 1000), int(end.timestamp() * 1000)))


def candles(start: datetime, count: int, *, skip=()) -> list[Candle]:
    out = []
    for i in range(count):
        if i in skip:
            continue
        price = Decimal(100 + i % 7)
        out.append(Candle(start=start + timedelta(minutes=i), open=price, high=price + 1, low=price - 1,
                          close=price, volume=Decimal("2.5")))
    return out


@pytest.fixture
def market(fake_bybit):
    fake_bybit.set_klines("BTCUSDT", "1", candles(START, 2500, skip={1000, 1001}))
    return fake_bybit


def test_it_pages_through_the_range_at_1000_and_resumes_without_asking_again(market, tmp_path):
    http = BybitHttp(base_url=market.url, sleep=lambda s: None)
    end = START + timedelta(minutes=2500)
    report = download_candles(http, "BTCUSDT", START, end, tmp_path)
    requests = market.requests_to("/v5/market/kline")
    assert report.pages == report.fetched == len(requests) == pages_between(START, end) == 3  # epoch-aligned
    assert all(int(r.params["limit"]) == 1000 for r in requests)
    assert all(int(r.params["end"]) - int(r.params["start"]) == PAGE_MS - 60_000 for r in requests)
    assert report.candles == 2498 and report.missing == 2
    again = download_candles(http, "BTCUSDT", START, end, tmp_path)
    assert (again.fetched, again.cached) == (0, 3) and len(market.requests_to("/v5/market/kline")) == 3


def test_an_interrupted_download_fetches_only_the_pages_it_lacks(market, tmp_path):
    http = BybitHttp(base_url=market.url, sleep=lambda s: None)
    end = START + timedelta(minutes=2500)
    download_candles(http, "BTCUSDT", START, end, tmp_path)
    pages = sorted((tmp_path / "BTCUSDT" / "1m").glob("*.csv"))
    pages[1].unlink()  # as if the run had died before writing it
    report = download_candles(http, "BTCUSDT", START, end, tmp_path)
    assert (report.fetched, report.cached) == (1, 2)


def test_a_page_reaching_into_the_present_is_partial_and_fetched_again(fake_bybit, tmp_path):
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    fake_bybit.set_klines("ETHUSDT", "1", candles(now - timedelta(minutes=30), 31))  # the last one still open
    http = BybitHttp(base_url=fake_bybit.url, sleep=lambda s: None)
    first = download_candles(http, "ETHUSDT", now - timedelta(minutes=30), now + timedelta(minutes=1), tmp_path)
    assert first.candles == 30  # the open minute is not written
    assert list((tmp_path / "ETHUSDT" / "1m").glob("*.partial.csv"))
    second = download_candles(http, "ETHUSDT", now - timedelta(minutes=30), now + timedelta(minutes=1), tmp_path)
    assert second.fetched >= 1


def test_the_command_fills_the_cache_that_backtests_read_and_reports_the_gap(market, tmp_path, settings):
    settings.BYBIT_BASE_URL, settings.DATA_DIR = market.url, tmp_path
    out = StringIO()
    call_command("download_candles", "--symbol", "btcusdt", "--from", "2026-02-28", "--to", "2026-03-01", stdout=out)
    pages = pages_between(datetime(2026, 2, 28, tzinfo=UTC), datetime(2026, 3, 2, tzinfo=UTC))
    assert f"BTCUSDT: {pages} pages of 1000 minutes, {pages} fetched (2,498 candles)" in out.getvalue()
    assert "have no candle on Bybit" in out.getvalue()
    data = load_candles("BTCUSDT", START, START + timedelta(minutes=2000), source=CACHE)
    assert data.candles == 1998 and [gap.missing for gap in data.gaps] == [2]
    assert "Bybit" in data.label
