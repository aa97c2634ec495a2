"""The fake Bybit servers with fault triggers: a fault armed for "the k-th request" or "just after the
exchange accepted the order", so each run hits the bot at a different point of its cycle.

``ChaosBybit`` is the ``FakeBybit`` of ``tests.fakes`` plus triggers. A trigger fires once, inside the
server thread that is answering the request, either *before* the request is served (the fault then
applies to that very request: a 5xx, a rate limit, a lost answer) or *after* the exchange processed it
(an order create that went through, followed by a killed worker or database connection). The moment
the first trigger fires is the fault's injection time, from which recovery is measured.

``ChaosStream`` is the fake public WebSocket, which can also drop every connection or go away for a
while and come back on the same port.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from tests.fakes.bybit_server import FakeBybit
from tests.fakes.bybit_state import FakeBybitState
from tests.fakes.bybit_ws import FakeBybitStream

ORDER_CREATE = "/v5/order/create"
TRADING_STOP = "/v5/position/trading-stop"


@dataclass
class Trigger:
    """``action`` runs once, the first time a request matches: the ``nth`` request to ``path`` (any path
    when None), counted from when the trigger was armed."""

    action: Callable[[], None]
    path: str | None = None
    nth: int = 1
    after: bool = False  # after the exchange processed the request (else before it is answered)
    seen: int = 0
    fired: bool = False


class ChaosBybit(FakeBybit):
    def __init__(self, **options):
        super().__init__(**options)
        self._triggers: list[Trigger] = []
        self._trigger_lock = threading.Lock()
        self.fault_at: float | None = None  # time.monotonic() of the first trigger that fired

    def on_request(self, action: Callable[[], None], *, path: str | None = None, nth: int = 1,
                   after: bool = False) -> Trigger:
        trigger = Trigger(action, path, max(1, nth), after)
        with self._trigger_lock:
            self._triggers.append(trigger)
        return trigger

    def reset(self, balance: Decimal = Decimal("10000")) -> None:
        """A fresh account on the same server (for workers that outlive a test): no orders, no positions,
        nothing recorded, nothing armed."""
        self.state = FakeBybitState(balance)
        with self._lock:
            self.requests.clear()
            self.orders_received.clear()
        self.disarm()

    def disarm(self) -> None:
        """Forget the triggers and every fault still waiting to strike (a new run starts clean)."""
        with self._trigger_lock:
            self._triggers.clear()
        self.clear_faults()
        self.fault_at = None

    @property
    def fired(self) -> int:
        return sum(trigger.fired for trigger in self._triggers)

    def _fire(self, path: str, *, after: bool) -> None:
        due = []
        with self._trigger_lock:
            for trigger in self._triggers:
                if trigger.fired or trigger.after != after or (trigger.path and trigger.path != path):
                    continue
                trigger.seen += 1
                if trigger.seen == trigger.nth:
                    trigger.fired = True
                    due.append(trigger)
        at = time.monotonic()
        for trigger in due:
            trigger.action()
        if due and self.fault_at is None:
            self.fault_at = at  # published once the fault is in place: a waiting test may act on it at once

    # FakeBybit.handle asks for a fault once per request, before serving it: the "before" hook.
    def _take_fault(self, path: str):
        self._fire(path, after=False)
        return super()._take_fault(path)

    def _route(self, method: str, path: str, params: dict, body: dict) -> dict:
        result = super()._route(method, path, params, body)
        self._fire(path, after=True)
        return result

    # What went over the wire, for the invariants
    def creates_sent(self) -> list[dict]:
        return [request.body for request in self.requests_to(ORDER_CREATE)]


class ChaosStream(FakeBybitStream):
    """The fake public stream, with ways to lose it: ``drop`` (every connection closed at once: a TCP FIN,
    or a WebSocket close frame first) and ``outage`` (drop, refuse connections for a while, come back)."""

    def connections(self) -> list[socket.socket]:
        with self._lock:
            return [conn for conn, _ in self.subscriptions]

    def subscribed(self, symbol: str) -> bool:
        with self._lock:
            return any(subscribed == symbol for _, subscribed in self.subscriptions)

    def drop(self, how: str = "fin") -> int:
        conns = self.connections()
        for conn in conns:
            try:
                if how == "close_frame":
                    conn.sendall(b"\x88\x02\x03\xe9")  # close, 1001 "going away", as a restarting server says
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        return len(conns)

    def outage(self, seconds: float) -> None:
        port = self._server.getsockname()[1]
        self._closed = True
        try:
            self._server.shutdown(socket.SHUT_RDWR)  # wakes the accept() blocked on it, so the port is free
        except OSError:
            pass
        self._server.close()
        self.drop()
        time.sleep(seconds)
        self._server = socket.create_server(("127.0.0.1", port))
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()
