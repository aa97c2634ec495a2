"""Exchange faults at random moments: each plan arms a trigger on a ``ChaosBybit`` for a random request of
a run and says, in one line, what it will do (printed with the seed when a run fails).

The request counts are those of a quiet run (two symbols: one cycle, a reconciliation, the cycle again),
so the trigger always falls inside the run; what it breaks carries on into whatever comes next.
"""

from __future__ import annotations

import random

from tests.hardening.chaos import ORDER_CREATE, TRADING_STOP

# Requests a quiet run makes to each path (at least), for choosing a moment that surely comes.
QUIET_RUN = {"/v5/market/time": 2, "/v5/market/kline": 4, "/v5/account/wallet-balance": 3, "/v5/position/list": 3,
             "/v5/market/instruments-info": 2, "/v5/order/realtime": 2, ORDER_CREATE: 2, TRADING_STOP: 2}
QUIET_RUN_REQUESTS = 22
READ_PATHS = [path for path in QUIET_RUN if path not in (ORDER_CREATE, TRADING_STOP)]
STATUSES = (500, 502, 503, 504)


def lost_answer(fake, rng: random.Random, *, how: str) -> str:
    """The exchange takes the order and the answer never arrives; then the lookups by orderLinkId may fail
    for a while too (few: the cycle finds the order; many: it stays pending for the reconciler)."""
    nth = rng.randint(1, QUIET_RUN[ORDER_CREATE])
    failing_lookups = rng.choice([0, rng.randint(1, 10), rng.randint(20, 40)])

    def inject():
        fake.lose_next_order_response(how)
        if failing_lookups:
            fake.fail(times=failing_lookups, status=502, path="/v5/order/realtime")

    fake.on_request(inject, path=ORDER_CREATE, nth=nth)
    return f"the answer to order create #{nth} is lost ({how}), then {failing_lookups} order lookups answer 502"


def burst(fake, rng: random.Random, *, target: str, max_times: int) -> str:
    """HTTP 5xx from a gateway, ``1..max_times`` requests in a row, on one path ("reads": a random read)."""
    path = rng.choice(READ_PATHS) if target == "reads" else target
    nth, times, status = rng.randint(1, QUIET_RUN[path]), rng.randint(1, max_times), rng.choice(STATUSES)
    fake.on_request(lambda: fake.fail(times=times, status=status, path=path), path=path, nth=nth)
    return f"{times} x HTTP {status} on {path} from its request #{nth}"


def storm(fake, rng: random.Random, *, kind: str, max_times: int) -> str:
    """From a random request on, ``1..max_times`` requests in a row on every path fail: 5xx, or a rate limit
    (retCode 10006 with a reset time, HTTP 429, HTTP 403 with the rate-limit headers)."""
    nth, times = rng.randint(1, QUIET_RUN_REQUESTS), rng.randint(1, max_times)
    if kind == "5xx":
        status = rng.choice(STATUSES)
        fake.on_request(lambda: fake.fail(times=times, status=status), nth=nth)
        return f"{times} x HTTP {status} on every path from request #{nth}"
    reset_ms = rng.randint(1, 200)
    http_status = {"10006": None, "429": 429, "403": 403}[kind]
    fake.on_request(lambda: fake.rate_limit(times=times, http_status=http_status, reset_ms=reset_ms), nth=nth)
    return f"{times} x rate limit {kind} (reset in {reset_ms} ms) on every path from request #{nth}"
