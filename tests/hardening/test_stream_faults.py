"""WebSocket drops: the market stream (pybit's public WebSocket -> ``MarketStreamer`` -> live events) loses its
connection again and again, in different ways, and comes back each time; trading, which never reads it,
goes on undisturbed meanwhile.

The streamer is driven as ``manage.py stream_market`` drives it (``follow`` every refresh, ``flush`` in
between), faster. A pusher moves the price every few milliseconds, so "recovered" means a price pushed
after the drop reached the dashboard's event path.
"""

from __future__ import annotations

import random
import threading
import time
from decimal import Decimal

from django.db import connection

from dashboard.market_stream import MarketStreamer, publish_ticker
from tests.hardening.chaos import ChaosBybit, ChaosStream
from tests.hardening.faults import RunResult, run_seed, runs, settle
from tests.hardening.invariants import Findings
from tests.hardening.scenario import START_BALANCE, make_cycle, open_market, trading_minute

FAULT = "4 WebSocket drops (market stream)"
DROPS = ("fin", "close_frame", "outage", "resubscribe")
RECOVERY_TIMEOUT = 20
REFRESH = 0.2  # stream_market's --refresh (10 s by default)


class DrivenStreamer:
    """A ``MarketStreamer`` run the way ``stream_market`` runs it, on a thread, recording what it publishes."""

    def __init__(self, exchange, symbols: list[str]):
        self.symbols = symbols
        self.published: list[tuple[float, Decimal]] = []
        self.streamer = MarketStreamer(exchange, min_interval=0, publish=self._publish)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="stream-market", daemon=True)

    def _publish(self, ticker, source):
        self.published.append((time.monotonic(), ticker.last_price))
        publish_ticker(ticker, source)  # the real event path to the dashboards

    def _loop(self):
        next_refresh = 0.0
        try:
            while not self._stop.is_set():
                if time.monotonic() >= next_refresh:
                    next_refresh = time.monotonic() + REFRESH
                    try:
                        self.streamer.follow(self.symbols)
                    except Exception:  # noqa: BLE001 - as stream_market: retry at the next refresh
                        pass
                self.streamer.flush()
                self._stop.wait(0.01)
        finally:
            connection.close()  # publishing asks the database whether a transaction is open

    def start(self):
        self._thread.start()
        return self

    def stop(self):
        self._stop.set()
        self._thread.join(5)
        self.streamer.close()

    def first_price_above(self, price: Decimal, since: float) -> float | None:
        return next((at for at, seen in self.published if at >= since and seen > price), None)


def test_the_market_stream_recovers_from_every_drop_and_trading_is_not_disturbed(fault_table, chaos_run):
    figures = fault_table.figures(FAULT)
    stream = ChaosStream({"BTCUSDT": "60000"})
    price = [60000]
    pushing = threading.Event()

    def push():
        while not pushing.is_set():
            price[0] += 1
            stream.push("BTCUSDT", str(price[0]))
            pushing.wait(0.005)

    seed = run_seed(fault_table.seed, FAULT, 0)
    drops = random.Random(seed + 1)  # the trading thread has the run's own
    with chaos_run(seed) as (fake, exchange, rng):
        streamer = DrivenStreamer(fake.exchange(ws_url=stream.url), ["BTCUSDT"]).start()
        threading.Thread(target=push, daemon=True).start()
        trading = TradingMeanwhile(fake, exchange, rng)
        trading.start()
        try:
            for index in range(runs(6)):
                kind = DROPS[index] if index < len(DROPS) else drops.choice(DROPS)  # each kind at least once
                figures.add(_drop_and_recover(stream, streamer, kind, price, drops, seed))
        finally:
            pushing.set()
            streamer.stop()
            stream.close()
        trading.done.set()
        trading.join(60)
        findings, recovery, beats, errors = settle(fake, exchange, START_BALANCE, fault_at=None)
    figures.orders += findings.orders  # placed by the trading that went on meanwhile

    assert trading.errors == [] and trading.cycles > 0, trading.errors
    assert findings.agree and findings.orders > 0, findings.lines()
    assert (figures.unsettled, figures.fired) == (0, figures.runs), figures.problems()


def _drop_and_recover(stream: ChaosStream, streamer: DrivenStreamer, kind: str, price: list[int],
                      rng: random.Random, seed: int) -> RunResult:
    live = Decimal(price[0])
    _wait(lambda: streamer.first_price_above(live, since=0))  # streaming before the drop
    at = time.monotonic()
    if kind == "outage":
        seconds = round(rng.uniform(0.2, 1.5), 2)
        stream.outage(seconds)
        plan = f"the stream server goes away for {seconds} s"
    elif kind == "resubscribe":
        # A new symbol set means a new subscription (and a new pybit socket) while prices keep coming.
        streamer.symbols = ["BTCUSDT", "ETHUSDT"] if streamer.symbols == ["BTCUSDT"] else ["BTCUSDT"]
        plan = f"the followed symbols change to {streamer.symbols}: a fresh subscription"
    else:
        stream.drop(kind)
        plan = f"every connection dropped ({kind})"
    mark = Decimal(price[0])
    recovered = _wait(lambda: streamer.first_price_above(mark, since=at))
    return RunResult(FAULT, seed, plan, True, Findings(), None if recovered is None else recovered - at)


def _wait(condition, timeout: float = RECOVERY_TIMEOUT):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(0.01)
    return None


class TradingMeanwhile(threading.Thread):
    """Trading on the REST fake, a cycle every few tenths of a second, while the stream is being dropped
    (the cycle never reads the stream; this shows nothing it publishes or drops reaches trading either)."""

    def __init__(self, fake: ChaosBybit, exchange, rng: random.Random):
        super().__init__(name="trading", daemon=True)
        self.fake, self.exchange, self.rng = fake, exchange, rng
        self.strategy = open_market(fake, rng)
        self.errors: list[str] = []
        self.cycles = 0
        self.done = threading.Event()

    def run(self):
        try:
            self.errors += trading_minute(self.fake, self.exchange, self.strategy, self.rng)
            while not self.done.wait(0.3):
                make_cycle(self.exchange).run([self.strategy])
                self.cycles += 1
        except Exception as error:  # noqa: BLE001 - reported by the test
            self.errors.append(f"{type(error).__name__}: {error}")
        finally:
            connection.close()
