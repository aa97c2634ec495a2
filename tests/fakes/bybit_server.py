"""A fake Bybit v5 REST server on loopback, for driving the real pybit client (and so ``BybitExchange``).

It speaks the wire format: signed requests are checked (``X-BAPI-API-KEY``, ``X-BAPI-SIGN`` = HMAC-SHA256
of timestamp + key + recv_window + query string or body, ``X-BAPI-TIMESTAMP`` inside the recv window)
and refused with Bybit's retCodes; answers are ``{"retCode", "retMsg", "result", "retExtInfo", "time"}``
envelopes with rate-limit headers; klines come newest first. A small exchange keeps the state
(``tests.fakes.bybit_state``).

Use the ``fake_bybit`` fixture::

    def test_it_survives_a_rate_limit(fake_bybit):
        fake_bybit.rate_limit(times=2)              # the next 2 requests answer retCode 10006
        exchange = fake_bybit.exchange()            # a BybitExchange pointed here, whose backoff does not sleep
        assert exchange.get_balance().equity == Decimal("10000")
        assert fake_bybit.slept                     # ... but it did back off (the delays are recorded)

Switches: ``rate_limit`` (10006, or HTTP 429/403), ``fail`` (HTTP 5xx), ``lose_next_order_response`` (the
order is accepted, then the connection drops or hangs past the client's timeout), ``reject_next_order``
(any retCode and retMsg), ``partially_fill_next_order`` and ``reject_next_order_after_accepting`` (the order is
accepted, then ends ``PartiallyFilledCanceled`` or ``Rejected``), ``latency`` (seconds added to every call),
``set_price`` and ``set_klines``.
What reached it: ``requests`` (every request), ``orders_received`` (every order create it accepted).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

import pytest

from tests.fakes.bybit_state import BybitError, FakeBybitState, now_ms, s

API_KEY = "fake-bybit-key-0001"
API_SECRET = "fake-bybit-secret-0001"
PRIVATE_PREFIXES = ("/v5/order/", "/v5/position/", "/v5/account/")
RATE_LIMIT = 10


@dataclass
class RecordedRequest:
    method: str
    path: str
    params: dict
    body: dict
    signed: bool
    at: float = field(default_factory=time.time)


@dataclass
class _Fault:
    kind: str  # "ret_code", "http", "lose", "reject"
    remaining: int
    path: str | None = None
    status: int = 0
    ret_code: int = 0
    ret_msg: str = ""
    how: str = "disconnect"


class FakeBybit:
    def __init__(self, *, api_key: str = API_KEY, api_secret: str = API_SECRET, balance: Decimal = Decimal("10000"),
                 recv_window_slack_ms: int = 1000):
        self.api_key, self.api_secret = api_key, api_secret
        self.state = FakeBybitState(balance)
        self.requests: list[RecordedRequest] = []
        self.orders_received: list[dict] = []
        self.latency = 0.0
        self.slept: list[float] = []
        self.recv_window_slack_ms = recv_window_slack_ms
        self._faults: list[_Fault] = []
        self._lock = threading.Lock()
        self._release = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self._server.fake = self
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02},
                                        name="fake-bybit", daemon=True)

    # Lifecycle
    def start(self) -> FakeBybit:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._release.set()
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> FakeBybit:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # Switches
    def rate_limit(self, times: int = 1, *, http_status: int | None = None, path: str | None = None,
                   reset_ms: int = 30) -> None:
        """The next ``times`` requests (to ``path``, if given) are rate limited: retCode 10006 with a reset
        header ``reset_ms`` ahead, or HTTP ``http_status`` (429, or 403 with the rate-limit headers)."""
        kind = "http" if http_status else "ret_code"
        self._add(_Fault(kind, times, path, status=http_status or 0, ret_code=10006,
                         ret_msg="Too many visits. Exceeded the API Rate Limit.", how=str(reset_ms)))

    def fail(self, times: int = 1, *, status: int = 502, path: str | None = None) -> None:
        """The next ``times`` requests (to ``path``) answer HTTP ``status`` with an HTML body, as a gateway would."""
        self._add(_Fault("http", times, path, status=status))

    def lose_next_order_response(self, how: str = "disconnect") -> None:
        """Accept the next order, then drop the connection (``disconnect``) or hold the answer past the
        client's timeout (``timeout``): the order exists, the client never hears so."""
        self._add(_Fault("lose", 1, "/v5/order/create", how=how))

    def reject_next_order(self, ret_code: int = 110007, ret_msg: str = "ab not enough for new order") -> None:
        self._add(_Fault("reject", 1, "/v5/order/create", ret_code=ret_code, ret_msg=ret_msg))

    def partially_fill_next_order(self, qty) -> None:
        """The next opening order fills only ``qty`` (0: nothing) and ends ``PartiallyFilledCanceled``."""
        self.state.next_outcomes.append(("partial", Decimal(str(qty))))

    def reject_next_order_after_accepting(self, reason: str = "EC_InsufficientMargin") -> None:
        """The next opening order is accepted (retCode 0), then ends ``Rejected`` with ``reason``."""
        self.state.next_outcomes.append(("rejected", reason))

    def clear_faults(self) -> None:
        """Cancel every switch still waiting to fire."""
        with self._lock:
            self._faults.clear()

    def set_price(self, symbol: str, price) -> None:
        self.state.set_price(symbol, Decimal(str(price)))

    def set_klines(self, symbol: str, interval: str, candles) -> None:
        """Candles (``exchange.base.Candle``, oldest first) that ``/v5/market/kline`` serves for this pair."""
        self.state.klines[(symbol, interval)] = [
            [str(int(c.start.timestamp() * 1000)), s(c.open), s(c.high), s(c.low), s(c.close), s(c.volume),
             s(c.close * c.volume)] for c in candles]

    def set_funding(self, symbol: str, rates) -> None:
        """Funding rates (``(settlement datetime, rate)``, oldest first) that ``/v5/market/funding/history`` serves."""
        self.state.funding[symbol] = [(int(time.timestamp() * 1000), str(rate)) for time, rate in rates]

    def _add(self, fault: _Fault) -> None:
        with self._lock:
            self._faults.append(fault)

    def _take_fault(self, path: str) -> _Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.remaining and (fault.path is None or fault.path == path):
                    fault.remaining -= 1
                    if not fault.remaining:
                        self._faults.remove(fault)
                    return fault
        return None

    # Views for tests
    def requests_to(self, path: str) -> list[RecordedRequest]:
        return [request for request in self.requests if request.path == path]

    def record_sleep(self, seconds: float) -> None:
        """A ``sleep`` for clients under test: remembers the backoff, does not wait."""
        self.slept.append(seconds)

    def exchange(self, **overrides):
        """A ``BybitExchange`` pointed at this server, with a recorded, non-sleeping backoff."""
        from exchange.bybit import BybitExchange

        options = {"api_key": self.api_key, "api_secret": self.api_secret, "base_url": self.url, "timeout": 2,
                   "recv_window": 5000, "sleep": self.record_sleep}
        options.update(overrides)
        return BybitExchange(**options)

    # Serving
    def handle(self, handler: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(handler.path)
        length = int(handler.headers.get("Content-Length") or 0)
        raw_body = handler.rfile.read(length).decode() if length else ""
        body = json.loads(raw_body) if raw_body else {}
        params = dict(parse_qsl(parts.query, keep_blank_values=True))
        private = parts.path.startswith(PRIVATE_PREFIXES)
        with self._lock:
            self.requests.append(RecordedRequest(handler.command, parts.path, params, body, signed=private))
        if self.latency:
            time.sleep(self.latency)
        fault = self._take_fault(parts.path)
        if fault and fault.kind == "http":
            if fault.ret_code == 10006:  # a rate limit at the HTTP layer
                return self._send(handler, fault.status, b"", reset_ms=int(fault.how), remaining=0)
            return self._send(handler, fault.status, b"<html><body>502 Bad Gateway</body></html>",
                              content_type="text/html")
        if fault and fault.kind == "ret_code":
            return self._envelope(handler, fault.ret_code, fault.ret_msg, {}, reset_ms=int(fault.how), remaining=0)
        try:
            if private:
                self._check_signature(handler, parts.query if handler.command == "GET" else raw_body)
            if fault and fault.kind == "reject":
                raise BybitError(fault.ret_code, fault.ret_msg)
            result = self._route(handler.command, parts.path, params, body)
        except BybitError as error:
            return self._envelope(handler, error.ret_code, error.ret_msg, {})
        except _NotFound:
            return self._send(handler, 404, b"404 page not found", content_type="text/plain")
        if parts.path == "/v5/order/create":
            with self._lock:
                self.orders_received.append(body)
        if fault and fault.kind == "lose":
            if fault.how == "timeout":
                self._release.wait(30)
            handler.close_connection = True
            handler.connection.shutdown(2)
            return None
        return self._envelope(handler, 0, "OK", result)

    def _check_signature(self, handler, payload: str) -> None:
        key = handler.headers.get("X-BAPI-API-KEY")
        if key != self.api_key:
            raise BybitError(10003, "API key is invalid.")
        timestamp = handler.headers.get("X-BAPI-TIMESTAMP", "")
        recv_window = handler.headers.get("X-BAPI-RECV-WINDOW", "5000")
        expected = hmac.new(self.api_secret.encode(), f"{timestamp}{key}{recv_window}{payload}".encode(),
                            hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, handler.headers.get("X-BAPI-SIGN", "")):
            raise BybitError(10004, f"error sign! origin_string[{timestamp}{key}{recv_window}{payload}]")
        server_time = now_ms()
        if not (server_time - int(recv_window) <= int(timestamp or 0) < server_time + self.recv_window_slack_ms):
            raise BybitError(10002, f"invalid request, please check your server timestamp or recv_window param. "
                                    f"req_timestamp[{timestamp}],server_timestamp[{server_time}],"
                                    f"recv_window[{recv_window}]")

    def _route(self, method: str, path: str, params: dict, body: dict) -> dict:
        state = self.state
        routes: dict[tuple[str, str], Callable[[], dict]] = {
            ("GET", "/v5/market/time"): lambda: {"timeSecond": str(now_ms() // 1000),
                                                 "timeNano": str(now_ms() * 1_000_000)},
            ("GET", "/v5/market/kline"): lambda: self._klines(params),
            ("GET", "/v5/market/funding/history"): lambda: self._funding(params),
            ("GET", "/v5/market/tickers"): lambda: self._tickers(params),
            ("GET", "/v5/market/instruments-info"): lambda: self._instruments(params),
            ("GET", "/v5/account/wallet-balance"): state.wallet_result,
            ("GET", "/v5/position/list"): lambda: {"category": "linear", "list": state.position_rows(params)},
            ("GET", "/v5/position/closed-pnl"): lambda: self._closed_pnl(params),
            ("GET", "/v5/order/realtime"): lambda: {"category": "linear",
                                                    "list": state.find_orders(params, open_only=True)},
            ("GET", "/v5/order/history"): lambda: {"category": "linear",
                                                   "list": state.find_orders(params, open_only=False)},
            ("POST", "/v5/order/create"): lambda: state.create_order(body),
            ("POST", "/v5/order/cancel"): lambda: state.cancel_order(body),
            ("POST", "/v5/order/cancel-all"): lambda: state.cancel_all(body),
            ("POST", "/v5/position/set-leverage"): lambda: state.set_leverage(body),
            ("POST", "/v5/position/trading-stop"): lambda: state.trading_stop(body),
        }
        if (method, path) not in routes:
            raise _NotFound
        with state.lock:
            return routes[(method, path)]()

    def _klines(self, params: dict) -> dict:
        rows = self.state.kline_rows(params.get("symbol", ""), params.get("interval", ""))
        if params.get("start"):
            rows = [row for row in rows if int(row[0]) >= int(params["start"])]
        if params.get("end"):
            rows = [row for row in rows if int(row[0]) <= int(params["end"])]
        limit = int(params.get("limit") or 200)
        if not 1 <= limit <= 1000:
            raise BybitError(10001, "params error: limit must be in [1, 1000]")
        return {"category": "linear", "symbol": params.get("symbol"), "list": list(reversed(rows[-limit:]))}

    def _funding(self, params: dict) -> dict:
        try:
            return self.state.funding_history(params)
        except ValueError as error:
            raise BybitError(10001, f"params error: {error}") from None

    def _tickers(self, params: dict) -> dict:
        symbol = params.get("symbol", "")
        if symbol not in self.state.rules:
            return {"category": "linear", "list": []}
        price = self.state.price(symbol)
        tick = self.state.rules[symbol].tick_size
        return {"category": "linear", "list": [{
            "symbol": symbol, "lastPrice": s(price), "markPrice": s(price), "indexPrice": s(price),
            "bid1Price": s(price - tick), "ask1Price": s(price + tick), "price24hPcnt": "0.0125",
            "volume24h": "12345.678"}]}

    def _instruments(self, params: dict) -> dict:
        rules = [rule for symbol, rule in self.state.rules.items() if symbol == params.get("symbol")]
        return {"category": "linear", "list": [{
            "symbol": rule.symbol, "contractType": "LinearPerpetual", "status": "Trading",
            "baseCoin": rule.symbol[:-4], "quoteCoin": "USDT", "settleCoin": "USDT",
            "leverageFilter": {"minLeverage": "1", "maxLeverage": s(rule.max_leverage), "leverageStep": "0.01"},
            "priceFilter": {"minPrice": s(rule.tick_size), "maxPrice": "1999999.80", "tickSize": s(rule.tick_size)},
            "lotSizeFilter": {"maxOrderQty": s(rule.max_qty), "maxMktOrderQty": s(rule.max_market_qty),
                              "minOrderQty": s(rule.min_qty), "qtyStep": s(rule.qty_step),
                              "minNotionalValue": s(rule.min_notional)}} for rule in rules]}

    def _closed_pnl(self, params: dict) -> dict:
        rows = list(reversed(self.state.closed_pnl))
        if params.get("symbol"):
            rows = [row for row in rows if row["symbol"] == params["symbol"]]
        if params.get("startTime"):
            rows = [row for row in rows if int(row["updatedTime"]) >= int(params["startTime"])]
        return {"category": "linear", "list": rows[: int(params.get("limit") or 50)], "nextPageCursor": ""}

    def _envelope(self, handler, ret_code: int, ret_msg: str, result: dict, **limits) -> None:
        payload = {"retCode": ret_code, "retMsg": ret_msg, "result": result, "retExtInfo": {}, "time": now_ms()}
        self._send(handler, 200, json.dumps(payload).encode(), **limits)

    @staticmethod
    def _send(handler, status: int, body: bytes, *, content_type: str = "application/json", reset_ms: int = 1000,
              remaining: int = RATE_LIMIT - 1) -> None:
        handler.send_response(status)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(body)))
        handler.send_header("X-Bapi-Limit", str(RATE_LIMIT))
        handler.send_header("X-Bapi-Limit-Status", str(remaining))
        handler.send_header("X-Bapi-Limit-Reset-Timestamp", str(now_ms() + reset_ms))
        handler.end_headers()
        handler.wfile.write(body)


class _NotFound(Exception):
    pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    wbufsize = -1  # headers and body leave in one write (flushed after each request)

    def do_GET(self):  # noqa: N802 - http.server's naming
        self.server.fake.handle(self)

    def do_POST(self):  # noqa: N802
        self.server.fake.handle(self)

    def log_message(self, format, *args):  # noqa: A002 - quiet
        pass


@pytest.fixture
def fake_bybit():
    """A running ``FakeBybit``; see the module docstring for its switches and records."""
    with FakeBybit() as fake:
        yield fake
