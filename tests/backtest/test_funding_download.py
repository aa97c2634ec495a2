"""``download_funding`` through the real pybit client against the fake Bybit server, and what backtests do with it."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command

from exchange.bybit_http import BybitHttp
from exchange.downloader import download_funding, funding_path, read_funding
from market.errors import ExchangeError
from tests.backtest.test_downloader import candles
from trades.backtest.data import CACHE, funding_rates, load_candles
from trades.backtest.engine import Minutes
from trades.backtest.perpetual import FundingSchedule

FIRST = datetime(2025, 11, 1, tzinfo=UTC)


def rates(count: int, start: datetime = FIRST) -> list[tuple[datetime, Decimal]]:
    return [(start + timedelta(hours=8 * i), Decimal(f"0.000{1 + i % 5}")) for i in range(count)]


def test_it_pages_backwards_by_end_time_200_at_a_time_and_merges_what_it_had(fake_bybit, tmp_path):
    fake_bybit.set_funding("BTCUSDT", rates(450))
    http = BybitHttp(base_url=fake_bybit.url, sleep=lambda s: None)
    end = FIRST + timedelta(hours=8 * 450)
    assert download_funding(http, "BTCUSDT", FIRST, end, tmp_path) == 450
    requests = fake_bybit.requests_to("/v5/market/funding/history")
    assert len(requests) == 3 and all(r.params["limit"] == "200" and r.params["category"] == "linear"
                                      for r in requests)
    ends = [int(r.params["endTime"]) for r in requests]
    assert ends == sorted(ends, reverse=True) and all(int(r.params["startTime"]) == FIRST.timestamp() * 1000
                                                      for r in requests)
    stored = read_funding(funding_path(tmp_path, "BTCUSDT"))
    assert stored[int(FIRST.timestamp() * 1000)] == Decimal("0.0001") and len(stored) == 450
    # Later rates are added to the file, earlier ones kept.
    fake_bybit.set_funding("BTCUSDT", rates(3, end))
    assert download_funding(http, "BTCUSDT", end, end + timedelta(days=1), tmp_path) == 453


def test_the_command_keeps_the_rates_beside_the_candles_and_a_backtest_pays_them_instead_of_assuming(
        fake_bybit, tmp_path, settings):
    start = datetime(2026, 2, 28, tzinfo=UTC)
    fake_bybit.set_klines("BTCUSDT", "1", candles(start, 2 * 24 * 60))
    fake_bybit.set_funding("BTCUSDT", rates(6, start))
    settings.BYBIT_BASE_URL, settings.DATA_DIR = fake_bybit.url, tmp_path
    out = StringIO()
    call_command("download_candles", "--symbol", "BTCUSDT", "--from", "2026-02-28", "--to", "2026-03-01",
                 "--funding", stdout=out)
    assert "BTCUSDT: 6 funding rates in" in out.getvalue()
    known = funding_rates("BTCUSDT", CACHE)
    assert len(known) == 6
    data = load_candles("BTCUSDT", start, start + timedelta(days=2), source=CACHE)
    schedule = FundingSchedule.build(Minutes.from_frame(data.frame).start, known)
    assert len(schedule.bar) == 5 and schedule.assumed == 0 and schedule.note == ""  # 08:00 .. 16:00 next day
    assert schedule.rates == tuple(rate for _, rate in rates(6, start)[1:])


def test_the_fake_refuses_a_page_larger_than_bybits_200_as_bybit_does(fake_bybit):
    http = BybitHttp(base_url=fake_bybit.url, sleep=lambda s: None)
    with pytest.raises(ExchangeError, match="limit"):
        http.call("get_funding_rate_history", category="linear", symbol="BTCUSDT", limit=500)
