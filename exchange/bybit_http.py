"""One pybit HTTP session, with the one place that decides what is retried and how errors are named.

pybit retries some retCodes itself (sleeping until a reset time that may lie in the past, which raises),
never retries 5xx, and re-sends POSTs on network errors when ``force_retry`` is on. None of that is used
here: pybit makes exactly one attempt per call and this module decides:

- ``call(..., idempotent=True)`` (reads, cancels, leverage, trading-stop): retried on rate limits
  (retCode 10006, HTTP 429, HTTP 403 with rate-limit headers) and on 5xx, timeouts and dropped
  connections, with exponential backoff and jitter, honouring the exchange's reset time.
- ``call(..., idempotent=False)`` (order create): one attempt, whatever happens. The caller settles a
  lost answer by looking the orderLinkId up.

Every HTTP request, retries included, first takes a slot in its address's window (``exchange.ratelimit``: Bybit's
600 requests per 5 s per IP, shared through Redis by every process that sends from the address). It is taken in the
session's transport adapter, so whatever pybit sends is counted, whichever method sent it.

Every failure leaves as one of the typed errors in ``market.errors``, with the exchange's own message.
"""

from __future__ import annotations

import logging
import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass

import requests
from pybit.exceptions import FailedRequestError, InvalidRequestError
from pybit.unified_trading import HTTP

from exchange.ratelimit import DEFAULT_HOLD_SECONDS, Pacer, address_pacer
from market.errors import (
    AuthenticationError,
    ExchangeError,
    OrderNotFoundError,
    OrderRejectedError,
    RateLimitedError,
    TemporaryError,
)

logger = logging.getLogger(__name__)

RATE_LIMIT_CODES = {10006}
TEMPORARY_CODES = {10000, 10002, 10016}  # server timeout, request expired (clock/latency), internal error
AUTH_CODES = {10003, 10004, 10005, 10007, 10009, 10010, 33004}
NOT_FOUND_CODES = {110001}
RESET_HEADER = "X-Bapi-Limit-Reset-Timestamp"
POOL_SIZE = 32  # kept-alive connections: the cycle's threads (TradingCycle.max_workers, 16) with room to spare


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with "equal jitter": half the delay fixed, half random, capped."""

    attempts: int = 5
    base_delay: float = 0.5
    max_delay: float = 10.0

    def delay(self, attempt: int, error: Exception, rng: random.Random) -> float:
        backoff = min(self.max_delay, self.base_delay * 2 ** attempt)
        delay = backoff / 2 + rng.random() * backoff / 2
        retry_after = getattr(error, "retry_after", None)
        if retry_after is not None:
            delay = max(delay, min(retry_after, self.max_delay))
        return max(0.0, delay)


DEFAULT_RETRY = RetryPolicy()
ADDRESS_PACER = object()  # the default pacer: this process's for its address group (exchange.ratelimit)


class PacedAdapter(requests.adapters.HTTPAdapter):
    """The session's transport: each request waits for a slot in the address's window before it is sent."""

    def __init__(self, pacer: Pacer, **kwargs):
        self.pacer = pacer
        super().__init__(**kwargs)

    def send(self, request, *args, **kwargs):
        slot = self.pacer.take(hold=hold_seconds(kwargs.get("timeout")))
        try:
            return super().send(request, *args, **kwargs)
        finally:
            self.pacer.done(slot)  # answered (or failed): it has reached Bybit by now if it ever will


def hold_seconds(timeout) -> float:
    """The longest a request with this ``timeout`` (requests' number, (connect, read) pair or None) can take."""
    if isinstance(timeout, tuple):
        return sum(part or DEFAULT_HOLD_SECONDS for part in timeout)
    return float(timeout) if timeout else DEFAULT_HOLD_SECONDS


class BybitHttp:
    """A pybit ``HTTP`` session pointed at ``base_url``, called through ``call``."""

    def __init__(self, *, base_url: str, api_key: str = "", api_secret: str = "", timeout: float = 10,
                 recv_window: int = 5000, sleep: Callable[[float], None] = time.sleep,
                 retry: RetryPolicy = DEFAULT_RETRY, rng: random.Random | None = None,
                 pacer: Pacer | None | object = ADDRESS_PACER):
        # max_retries counts attempts; 0 would crash pybit (UnboundLocalError), 1 means "just once".
        self.session = HTTP(api_key=api_key or None, api_secret=api_secret or None, timeout=timeout,
                            recv_window=recv_window, max_retries=1, force_retry=False)
        self.session.endpoint = base_url.rstrip("/")
        self.session.retry_codes = set()  # set after construction: an empty set passed in means "defaults"
        # requests keeps 10 connections per host by default; the cycle calls from up to 16 threads at once, and
        # every connection beyond the pool was opened, used once and discarded ("Connection pool is full").
        # ``pacer=None`` sends unpaced: for a server that is not Bybit's (nothing else passes it).
        self.pacer = address_pacer() if pacer is ADDRESS_PACER else pacer
        adapter = PacedAdapter(self.pacer, pool_connections=2, pool_maxsize=POOL_SIZE) if self.pacer else \
            requests.adapters.HTTPAdapter(pool_connections=2, pool_maxsize=POOL_SIZE)
        for scheme in ("https://", "http://"):
            self.session.client.mount(scheme, adapter)
        # The environment's proxy and CA settings read once here, not on every request: requests scans the whole
        # environment three times a call otherwise, the largest part of a kline request's CPU (issue 23).
        client = self.session.client
        client.proxies.update(requests.utils.get_environ_proxies(self.session.endpoint))
        client.verify = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or client.verify
        client.trust_env = False
        self.base_url = self.session.endpoint
        self.sleep = sleep
        self.retry = retry
        self.rng = rng or random.Random()

    def call(self, method: str, *, idempotent: bool = True, ok_codes: frozenset[int] = frozenset(),
             **params) -> dict:
        """``session.<method>(**params)``'s ``result``; retried only when ``idempotent``.

        ``ok_codes`` are retCodes that mean "already so" (leverage not modified, ...): answered as success.
        """
        attempts = self.retry.attempts if idempotent else 1
        for attempt in range(attempts):
            try:
                return self._once(method, params, ok_codes)
            except TemporaryError as error:
                if attempt + 1 >= attempts:
                    raise
                delay = self.retry.delay(attempt, error, self.rng)
                logger.warning("bybit %s failed (%s); retrying in %.2fs", method, error, delay,
                               extra={"attempt": attempt + 1, "endpoint": method})
                self.sleep(delay)
        raise AssertionError("unreachable")

    def _once(self, method: str, params: dict, ok_codes: frozenset[int]) -> dict:
        try:
            response = getattr(self.session, method)(**params)
        except InvalidRequestError as error:
            if error.status_code in ok_codes:
                return {}
            raise error_from_ret_code(error.status_code, error.message, error.resp_headers) from None
        except FailedRequestError as error:
            raise error_from_http_status(error.status_code, error.message, error.resp_headers) from None
        except requests.RequestException as error:
            raise TemporaryError(f"Bybit did not answer: {type(error).__name__}: {error}") from None
        return response.get("result") or {}


def error_from_ret_code(ret_code: int, message: str, headers=None) -> ExchangeError:
    if ret_code in RATE_LIMIT_CODES:
        return RateLimitedError(message, ret_code=ret_code, retry_after=_retry_after(headers))
    if ret_code in TEMPORARY_CODES:
        return TemporaryError(message, ret_code=ret_code)
    if ret_code in AUTH_CODES:
        return AuthenticationError(message, ret_code=ret_code)
    if ret_code in NOT_FOUND_CODES:
        return OrderNotFoundError(message, ret_code=ret_code)
    return OrderRejectedError(message, ret_code=ret_code)


def error_from_http_status(status: int, message: str, headers=None) -> ExchangeError:
    headers = headers or {}
    if status == 429 or (status == 403 and any(key.lower().startswith("x-bapi-limit") for key in headers)):
        return RateLimitedError(f"HTTP {status}: rate limited by Bybit", retry_after=_retry_after(headers))
    if status >= 500 or status == 409:  # pybit reports an unreadable (non-JSON) answer as 409
        return TemporaryError(f"HTTP {status} from Bybit: {message}")
    if status in (401, 403):
        return AuthenticationError(f"HTTP {status} from Bybit: {message}")
    return ExchangeError(f"HTTP {status} from Bybit: {message}")


def _retry_after(headers) -> float | None:
    """Seconds until Bybit's rate-limit window resets; never negative, whatever the clocks say."""
    if not headers:
        return None
    value = headers.get(RESET_HEADER) or headers.get(RESET_HEADER.lower())
    try:
        return max(0.0, int(value) / 1000 - time.time()) if value else None
    except (TypeError, ValueError):
        return None
