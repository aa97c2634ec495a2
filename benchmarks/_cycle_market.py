"""A fake Bybit v5 market for any number of symbols, for ``cycle_bench.py`` (the test fake serves only its bundled
symbols). It speaks the wire format the real client (``exchange.bybit.BybitExchange`` through pybit) reads: server
time, klines (seeded random walks, newest first, the newest still forming), instrument rules, tickers, a wallet and
an empty position list, each answer after ``latency`` seconds. Signatures are not checked: the cycle's cost, not
authentication, is measured here. It notes when each request arrives (as Bybit counts its limit per IP: on arrival),
and hands the notes over at ``GET /_bench/arrivals`` (``RemoteMarket.arrivals``), which is not itself counted.
It runs in its own process, as a real exchange would, so its threads do not compete with the cycle's for the
benchmark's GIL (they do compete for the machine's two cores).
"""

from __future__ import annotations

import json
import multiprocessing
import threading
import time
import urllib.request
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

import numpy as np

from exchange.ratelimit import most_in_any_window
from market.intervals import INTERVAL_MINUTES

API_KEY, API_SECRET = "bench-key", "bench-secret"
CANDLES = 201  # the cycle asks for kline_limit + 1


def symbols(count: int) -> list[str]:
    """``count`` synthesized USDT perpetual names: SYN0001USDT, SYN0002USDT, ..."""
    return [f"SYN{number:04d}USDT" for number in range(1, count + 1)]


def busiest_window(arrivals: list[float], seconds: float = 5.0) -> int:
    """The most requests that arrived within any ``seconds`` (Bybit's window: ``exchange.ratelimit``'s rule)."""
    return most_in_any_window(arrivals, seconds)


def kline_rows(symbol: str, interval: str, now_ms: int, count: int = CANDLES) -> list[list[str]]:
    """``count`` candles ending with the one forming at ``now_ms``, newest first, as Bybit's strings. The walk is
    seeded by the symbol and interval, so every run sees the same market."""
    rng = np.random.default_rng(zlib.crc32(f"{symbol}/{interval}".encode()))
    step = INTERVAL_MINUTES[interval] * 60_000
    newest = now_ms // step * step
    starts = newest - step * np.arange(count - 1, -1, -1)
    drift = rng.normal(0, 0.0008)
    close = rng.uniform(0.5, 500) * np.exp(np.cumsum(rng.normal(drift, 0.004, count)))
    open_ = np.concatenate([[close[0]], close[:-1]])
    spread = np.abs(rng.normal(0, 0.002, count)) * close
    high, low = np.maximum(open_, close) + spread, np.minimum(open_, close) - spread
    volume = rng.uniform(100, 10_000, count)
    rows = [[str(int(start)), f"{o:.6g}", f"{h:.6g}", f"{lo:.6g}", f"{c:.6g}", f"{v:.2f}", f"{v * c:.2f}"]
            for start, o, h, lo, c, v in zip(starts, open_, high, low, close, volume, strict=True)]
    return rows[::-1]


class Market:
    def __init__(self, names: list[str], intervals: list[str], latency: float):
        self.latency = latency
        now = int(time.time() * 1000)
        self.klines = {(symbol, interval): json.dumps(kline_rows(symbol, interval, now))
                       for symbol in names for interval in intervals}
        self.requests = 0
        self.arrivals: list[float] = []  # time.time() of each request's arrival, since the last hand-over
        self.arrivals_lock = threading.Lock()

    def answer(self, path: str, params: dict) -> str:
        self.requests += 1
        if path == "/v5/market/kline":
            rows = self.klines.get((params.get("symbol"), params.get("interval")), "[]")
            return f'{{"category":"linear","symbol":"{params.get("symbol")}","list":{rows}}}'
        return json.dumps(self._small(path, params))

    @staticmethod
    def _small(path: str, params: dict) -> dict:
        if path == "/v5/market/time":
            now = time.time_ns()
            return {"timeSecond": str(now // 10**9), "timeNano": str(now)}
        if path == "/v5/account/wallet-balance":
            return {"list": [{"accountType": "UNIFIED", "totalAvailableBalance": "100000", "coin": [{
                "coin": "USDT", "equity": "100000", "walletBalance": "100000", "unrealisedPnl": "0",
                "totalPositionIM": "0", "totalOrderIM": "0", "availableToWithdraw": ""}]}]}
        if path == "/v5/position/list":
            return {"category": "linear", "list": [], "nextPageCursor": ""}
        if path == "/v5/market/instruments-info":
            return {"category": "linear", "list": [{
                "symbol": params.get("symbol"), "status": "Trading", "settleCoin": "USDT",
                "leverageFilter": {"minLeverage": "1", "maxLeverage": "50", "leverageStep": "0.01"},
                "priceFilter": {"tickSize": "0.000001"},
                "lotSizeFilter": {"maxOrderQty": "1000000000", "maxMktOrderQty": "100000000", "minOrderQty": "0.001",
                                  "qtyStep": "0.001", "minNotionalValue": "5"}}]}
        return {"list": []}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # kept-alive connections, as pybit's pool expects
    disable_nagle_algorithm = True
    wbufsize = -1

    def do_GET(self):  # noqa: N802 - http.server's naming
        self._answer()

    def do_POST(self):  # noqa: N802
        self._answer()

    def _answer(self):
        arrived = time.time()
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        market: Market = self.server.market
        parts = urlsplit(self.path)
        if parts.path == "/_bench/arrivals":
            with market.arrivals_lock:  # handed over and forgotten in one step: no arrival lost or counted twice
                notes, market.arrivals = market.arrivals, []
            self._send(json.dumps(notes).encode())
            return
        with market.arrivals_lock:
            market.arrivals.append(arrived)
        time.sleep(market.latency)
        result = market.answer(parts.path, dict(parse_qsl(parts.query)))
        body = f'{{"retCode":0,"retMsg":"OK","result":{result},"retExtInfo":{{}},"time":{int(time.time() * 1000)}}}'
        self._send(body.encode())

    def _send(self, data: bytes) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format, *args):  # noqa: A002 - quiet
        pass


def _serve(names, intervals, latency, urls, stop) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    server.request_queue_size = 128
    server.market = Market(names, intervals, latency)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    urls.put(f"http://127.0.0.1:{server.server_address[1]}")
    stop.wait()
    server.shutdown()


class RemoteMarket:
    """The fake market in a child process (forked: it starts in a moment, with the candles built before serving)."""

    def __init__(self, names: list[str], intervals: list[str], latency: float):
        context = multiprocessing.get_context("fork")
        self._urls, self._stop = context.Queue(), context.Event()
        self._process = context.Process(target=_serve, args=(names, intervals, latency, self._urls, self._stop),
                                        daemon=True)

    def __enter__(self) -> RemoteMarket:
        self._process.start()
        self.url = self._urls.get(timeout=120)
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._process.join(10)

    def arrivals(self) -> list[float]:
        """When each request arrived (``time.time()``) since the last call."""
        with urllib.request.urlopen(f"{self.url}/_bench/arrivals", timeout=30) as answer:
            return json.loads(answer.read())

    def exchange(self):
        from exchange.bybit import BybitExchange  # after django.setup() in the benchmark

        return BybitExchange(api_key=API_KEY, api_secret=API_SECRET, base_url=self.url, timeout=30)
