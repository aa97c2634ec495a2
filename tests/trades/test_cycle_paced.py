"""The cycle under Bybit's limit per IP (exchange.ratelimit): a window too small for one cycle's requests makes the
cycle wait for slots, not fail, and it decides every pair as an unhindered cycle does (the pairs are evaluated as
their frames arrive, in whatever order that is)."""

from __future__ import annotations

import time
import uuid

import pytest
import redis

from exchange.ratelimit import KEY_PREFIX
from tests.fakes.scenarios import serve, signal_window
from trades.models import DecisionOutcome

SYMBOLS = ("BTCUSDT", "ETHUSDT")


def decided(report) -> list[tuple]:
    return [(pair.strategy.pk, pair.symbol, pair.action, pair.outcome, tuple(pair.signal.reasons))
            for pair in report.pairs]


@pytest.mark.django_db(transaction=True)
def test_a_cycle_over_its_window_waits_for_slots_and_decides_as_an_unhindered_one(fake_bybit, make_cycle,
                                                                                  make_strategy, settings):
    for symbol in SYMBOLS:
        for interval, action in (("1", "LONG"), ("5", "SHORT")):
            candles, _ = signal_window(action=action, strategy_type="trend_following", symbol=symbol,
                                       interval=interval)
            serve(fake_bybit, symbol, interval, candles)
    strategies = [make_strategy(type=kind, symbols=list(SYMBOLS), timeframe=interval)
                  for kind in ("trend_following", "scalping") for interval in ("1", "5")]
    groups = [f"test-{uuid.uuid4().hex[:8]}" for _ in range(2)]

    settings.BYBIT_IP_LIMIT, settings.BYBIT_IP_GROUP = (600, 5.0), groups[0]  # never reached by one cycle
    unhindered = make_cycle(exchange=fake_bybit.exchange(), dry_run=True).run(strategies)
    settings.BYBIT_IP_LIMIT, settings.BYBIT_IP_GROUP = (3, 1.0), groups[1]  # 3 a second: the cycle sends 7
    started = time.monotonic()
    paced = make_cycle(exchange=fake_bybit.exchange(), dry_run=True).run(strategies)
    elapsed = time.monotonic() - started

    # Server time, then 4 klines, balance and positions: 3 in the first second, 3 in the next, 1 in the third.
    assert elapsed >= 2.0
    assert len(paced.pairs) == 8 and not any(pair.outcome == DecisionOutcome.FAILED for pair in paced.pairs)
    assert decided(paced) == decided(unhindered)
    # Not all HOLDs: the served markets signal, and the paced cycle read each pair's own frames.
    assert {(pair.strategy.type, pair.strategy.timeframe, pair.action) for pair in paced.pairs} == {
        ("trend_following", "1", "LONG"), ("trend_following", "5", "SHORT"), ("scalping", "1", "HOLD"),
        ("scalping", "5", "HOLD")}
    redis.Redis.from_url(settings.REDIS_URL).delete(*(KEY_PREFIX + group for group in groups))
