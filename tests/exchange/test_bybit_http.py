"""The retry policy and the mapping of Bybit's answers to typed errors (the one place both are decided)."""

import random
import time

from exchange.bybit_http import POOL_SIZE, BybitHttp, RetryPolicy, error_from_http_status, error_from_ret_code
from market.errors import (
    AuthenticationError,
    ExchangeError,
    OrderNotFoundError,
    OrderRejectedError,
    RateLimitedError,
    TemporaryError,
)
from trades.cycle import TradingCycle


def test_the_backoff_doubles_with_jitter_and_is_capped():
    policy, rng = RetryPolicy(base_delay=0.5, max_delay=4), random.Random(7)
    error = TemporaryError("HTTP 502")
    for attempt, (low, high) in enumerate([(0.25, 0.5), (0.5, 1), (1, 2), (2, 4), (2, 4), (2, 4)]):
        delays = {policy.delay(attempt, error, rng) for _ in range(50)}
        assert all(low <= delay <= high for delay in delays) and len(delays) > 1


def test_the_backoff_waits_for_the_rate_limit_reset_but_never_a_negative_or_endless_time():
    policy, rng = RetryPolicy(base_delay=0.1, max_delay=5), random.Random(1)
    assert policy.delay(0, RateLimitedError("10006", retry_after=3.0), rng) == 3.0
    assert policy.delay(0, RateLimitedError("10006", retry_after=600.0), rng) == 5.0
    assert 0.05 <= policy.delay(0, RateLimitedError("10006", retry_after=0.0), rng) <= 0.1


def test_ret_codes_become_typed_errors_that_keep_bybits_message():
    reset = {"X-Bapi-Limit-Reset-Timestamp": str(int(time.time() * 1000) - 5000)}  # in the past: clock skew
    limited = error_from_ret_code(10006, "Too many visits", reset)
    assert isinstance(limited, RateLimitedError) and limited.retry_after == 0.0
    assert isinstance(error_from_ret_code(10004, "error sign!"), AuthenticationError)
    assert isinstance(error_from_ret_code(10016, "Internal error"), TemporaryError)
    assert isinstance(error_from_ret_code(110001, "order not exists"), OrderNotFoundError)
    rejected = error_from_ret_code(110007, "ab not enough for new order")
    assert isinstance(rejected, OrderRejectedError) and str(rejected) == "ab not enough for new order (retCode 110007)"


def test_http_statuses_become_typed_errors():
    assert isinstance(error_from_http_status(429, "x"), RateLimitedError)
    assert isinstance(error_from_http_status(403, "x", {"X-Bapi-Limit-Status": "0"}), RateLimitedError)
    assert isinstance(error_from_http_status(403, "your IP is from the USA"), AuthenticationError)
    assert isinstance(error_from_http_status(504, "x"), TemporaryError)
    assert type(error_from_http_status(404, "x")) is ExchangeError


def test_the_connection_pool_holds_every_concurrent_call_of_the_cycle():
    http = BybitHttp(base_url="http://127.0.0.1:1")
    adapter = http.session.client.get_adapter("https://api.bybit.com")
    assert adapter._pool_maxsize == POOL_SIZE >= TradingCycle(exchange=None).max_workers
