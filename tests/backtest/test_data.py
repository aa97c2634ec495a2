"""Candle sources: bundled, CSV and Parquet files, the download cache; gaps reported, never filled."""

from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from trades.backtest.data import DataError, load_candles, read_file

DAY = datetime(2026, 4, 1, tzinfo=UTC)


def bundled_day():
    return load_candles("BTCUSDT", DAY, DAY + timedelta(days=1)).frame


def test_the_bundled_month_loads_with_its_warmup_and_no_gaps(db):
    data = load_candles("BTCUSDT", DAY, DAY + timedelta(days=1), warmup=timedelta(hours=3))
    assert data.candles == 1440 and data.trade_from == 180
    assert data.frame.index[data.trade_from] == pd.Timestamp(DAY)
    assert data.gaps == () and "Binance spot" in data.label
    assert len(data.checksum) == 64


def test_a_csv_file_with_missing_minutes_reports_each_gap_and_keeps_them_missing(tmp_path):
    frame = bundled_day()
    holed = frame.drop(frame.index[100:103]).drop(frame.index[500])
    path = tmp_path / "btc.csv"
    holed.reset_index().assign(start=lambda f: f["start"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")).to_csv(path, index=False)
    data = load_candles("BTCUSDT", DAY, DAY + timedelta(days=1), source=str(path))
    assert [(gap.after.strftime("%H:%M"), gap.missing) for gap in data.gaps] == [("01:39", 3), ("08:19", 1)]
    assert data.candles == 1440 - 4
    assert data.checksum != load_candles("BTCUSDT", DAY, DAY + timedelta(days=1)).checksum


def test_a_parquet_file_gives_the_same_candles_and_checksum_as_the_csv_it_came_from(tmp_path):
    frame = bundled_day()
    frame.to_parquet(tmp_path / "btc.parquet")
    csv_path = tmp_path / "btc.csv"
    export = frame.reset_index()
    export["timestamp_ms"] = export.pop("start").map(lambda t: int(t.timestamp() * 1000))
    export.to_csv(csv_path, index=False)
    from_parquet = load_candles("BTCUSDT", DAY, DAY + timedelta(days=1), source=str(tmp_path / "btc.parquet"))
    from_csv = load_candles("BTCUSDT", DAY, DAY + timedelta(days=1), source=str(csv_path))
    assert from_parquet.checksum == from_csv.checksum == load_candles("BTCUSDT", DAY, DAY + timedelta(days=1)).checksum


@pytest.mark.parametrize("content, message", [
    ("timestamp_ms,open,high,low,close\n1,1,1,1,1\n", "missing volume"),
    ("open,high,low,close,volume\n1,1,1,1,1\n", "a time column"),
    ("timestamp_ms,open,high,low,close,volume\n1775001600000,10,9,8,9,1\n", "impossible candles"),
    ("timestamp_ms,open,high,low,close,volume\n1775001600000,10,11,9,x,1\n", "missing or non-numeric"),
    ("timestamp_ms,open,high,low,close,volume\n1775001630000,10,11,9,10,1\n", "whole minutes"),
])
def test_a_file_a_backtest_cannot_trust_is_refused_with_the_reason(tmp_path, content, message):
    path = tmp_path / "bad.csv"
    path.write_text(content)
    with pytest.raises(DataError, match=message):
        read_file(path)


def test_a_range_outside_the_data_says_what_the_data_covers(db):
    with pytest.raises(DataError, match="it has 2026-03-23 12:09 to 2026-04-22 12:07"):
        load_candles("BTCUSDT", datetime(2025, 1, 1, tzinfo=UTC), datetime(2025, 2, 1, tzinfo=UTC))
