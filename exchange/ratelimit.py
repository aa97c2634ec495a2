"""Bybit's HTTP limit per IP address (600 requests in any 5-second window; a breach is a 403 and a ban of at least
10 minutes), kept by every process and machine that sends from one address.

Each request first takes a slot in its address group's window (``Pacer.take``, called by the Bybit adapter at the
wire, ``exchange.bybit_http``). The window lives in Redis, so the threads of a cycle, the prefork children of a
worker and several worker machines behind one address all count against the same figure.

Why a sliding window and not a token bucket: a bucket of N tokens refilled at N per 5 s lets 2N requests through in
one 5-second window (a full bucket spent, then a refill's worth); Bybit counts any window. The window here is a
sorted set of slot times (Redis's own clock, so machines' clocks do not matter): a slot is refused while the last
``seconds`` already hold ``requests`` slots, and the refusal says how long until the oldest one leaves.

A slot counts from when it is taken until ``seconds`` after the answer came back (``Pacer.done`` moves its time to
then; until then it is held as if sent at the end of its timeout). Bybit counts a request when it arrives, which is
somewhere between the two, however long the request waited for a core or the network: counted from the answer, no
window at Bybit can hold more than the window here allows. (Counted from the grant, a busy process's requests that
left late and the next window's that left early landed together: 598 arrivals in 5 s were measured for 550 slots.)

Redis down: the process goes on with a window of its own (``LocalWindow``) at the same figure, which already holds
this process's own recent grants, and logs one warning per outage (no traceback); Redis is asked again every
``REDIS_RETRY_SECONDS``. Redis is also the Celery broker, so while it is down no new sub-task reaches a worker: the
processes still sending are those already inside a cycle. Several of them at once could then exceed the address's
figure together; one cannot.
"""

from __future__ import annotations

import itertools
import logging
import os
import socket
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import redis
from django.conf import settings

from core.unavailable import REDIS_UNREACHABLE

logger = logging.getLogger(__name__)

KEY_PREFIX = "tradebot:bybit-ip:"
REDIS_RETRY_SECONDS = 5.0

# KEYS[1]: the group's sorted set of slot times (ms). ARGV: requests, window ms, the slot's member, how long (ms) it
# is held at most before its answer, then the members of this process's slots whose answers came back since its last
# call: they count from now (``Pacer.done`` queues them for the next call rather than spending a round trip each;
# a slot then counts from a little after its answer, which only ever errs on the safe side). Returns 0 when taken,
# else the ms until a slot frees. TIME is Redis's clock: one
# clock for every caller. A slot in flight is scored at the end of its hold, so it cannot leave before its answer.
_TAKE = """
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) * 1000 + tonumber(now_parts[2]) / 1000
local limit, window = tonumber(ARGV[1]), tonumber(ARGV[2])
for i = 5, #ARGV do
  redis.call('ZADD', KEYS[1], 'XX', now, ARGV[i])
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local used = redis.call('ZCARD', KEYS[1])
if used < limit then
  local hold = tonumber(ARGV[4])
  redis.call('ZADD', KEYS[1], now + hold, ARGV[3])
  redis.call('PEXPIRE', KEYS[1], math.ceil(window + hold))
  return 0
end
local oldest = redis.call('ZRANGE', KEYS[1], used - limit, used - limit, 'WITHSCORES')
return math.max(1, math.ceil(tonumber(oldest[2]) + window - now))
"""
# KEYS[1]: as above; ARGV: the slots' members. Their answers came back: they count from now (if still there).
_DONE = """
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) * 1000 + tonumber(now_parts[2]) / 1000
for i = 1, #ARGV do
  redis.call('ZADD', KEYS[1], 'XX', now, ARGV[i])
end
return 0
"""
def most_in_any_window(times: list[float], seconds: float) -> int:
    """The most of ``times`` within any ``seconds`` (a window [t, t + seconds) starting at one of them): the figure
    the pacer keeps at or under its limit, as Bybit counts it. For whoever checks it (the tests, the cycle bench)."""
    ordered = sorted(times)
    most, first = 0, 0
    for last, at in enumerate(ordered):
        while ordered[first] <= at - seconds:
            first += 1
        most = max(most, last - first + 1)
    return most


# Answered slots told to Redis on their own once this many wait (a process that stops sending): until then they ride
# along with the next take.
FLUSH_ANSWERED = 64
DEFAULT_HOLD_SECONDS = 60.0  # a request without a timeout: held this long at most before it counts from its answer
MAX_POLL_SECONDS = 0.25  # a full window of slots in flight frees as their answers come: asked again this often


@dataclass(frozen=True)
class RequestWindow:
    """At most ``requests`` requests in any ``seconds``."""

    requests: int
    seconds: float


class LocalWindow:
    """The same window kept in this process only (monotonic clock)."""

    def __init__(self, limit: RequestWindow, clock: Callable[[], float] = time.monotonic):
        self.limit = limit
        self.clock = clock
        self._grants: deque[float] = deque()

    def try_take(self) -> float:
        """0 and a slot taken, or the seconds until one frees."""
        now = self.clock()
        self._forget(now)
        if len(self._grants) < self.limit.requests:
            self._grants.append(now)
            return 0.0
        return max(1e-3, self._grants[0] + self.limit.seconds - now)

    def note(self) -> None:
        """A slot this process was granted elsewhere (in Redis): kept, so a fallback starts from what it sent."""
        now = self.clock()
        self._forget(now)
        self._grants.append(now)

    def _forget(self, now: float) -> None:
        while self._grants and self._grants[0] <= now - self.limit.seconds:
            self._grants.popleft()


class RedisWindow:
    """The window of one address group in Redis, shared by every process that reaches this Redis."""

    def __init__(self, client: redis.Redis, group: str, limit: RequestWindow):
        self.key = KEY_PREFIX + group
        self.limit = limit
        self._take = client.register_script(_TAKE)
        self._done = client.register_script(_DONE)
        self._members = itertools.count()
        self._member_prefix = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}:"

    def try_take(self, hold: float, answered: list[str] = ()) -> tuple[float, str]:
        """(0, the slot) when taken, else (seconds until one frees, ""); ``answered``: slots whose answers are back."""
        member = f"{self._member_prefix}{next(self._members)}"
        wait_ms = self._take(keys=[self.key], args=[self.limit.requests, int(self.limit.seconds * 1000), member,
                                                    int(hold * 1000), *answered])
        return (0.0, member) if int(wait_ms) <= 0 else (int(wait_ms) / 1000, "")

    def done(self, members: list[str]) -> None:
        """These slots' answers are back: they count from now (one call for all of them)."""
        self._done(keys=[self.key], args=members)


class Pacer:
    """Blocks each request until its address group's window has room. While there is room, threads ask at once
    (a lock around the Redis call would queue every request of a busy process behind one round trip); once the
    window is full, one thread of the process asks at a time and the others queue on a lock, so a full window costs
    one Redis call per slot freed, not one per waiting thread."""

    def __init__(self, limit: RequestWindow, shared: RedisWindow | None = None, *,
                 sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic):
        self.limit = limit
        self.shared = shared
        self.local = LocalWindow(limit, clock)
        self.sleep = sleep
        self.clock = clock
        self._waiting = threading.Lock()
        self._local_lock = threading.Lock()  # the local window and the outage state, never held across I/O
        self._redis_back_at = 0.0  # when to ask Redis again after it failed
        self._answered: list[str] = []  # slots whose answers came back, told to Redis with the next take
        self._warned = False

    def take(self, hold: float = DEFAULT_HOLD_SECONDS) -> str:
        """Wait for a slot; returns it, for ``done`` when the answer is back. ``hold``: the longest the request can
        take (its timeout)."""
        wait, slot = self._try_take(hold)
        if wait <= 0:
            return slot
        with self._waiting:
            while True:
                wait, slot = self._try_take(hold)
                if wait <= 0:
                    return slot
                self.sleep(min(wait, MAX_POLL_SECONDS))

    def done(self, slot: str) -> None:
        """The request's answer is back (or it failed): its slot counts from the process's next call to Redis (the
        next request's, at most ``FLUSH_ANSWERED`` later in a busy cycle), or from now once that many are queued."""
        if not slot:
            return
        with self._local_lock:
            self._answered.append(slot)
            if len(self._answered) < FLUSH_ANSWERED:
                return
            answered, self._answered = self._answered, []
        try:
            self.shared.done(answered)
        except REDIS_UNREACHABLE:
            pass  # the slots then leave at the end of their hold, later than needed: only slower, never over

    def _answered_slots(self) -> list[str]:
        with self._local_lock:
            answered, self._answered = self._answered, []
        return answered

    def _try_take(self, hold: float) -> tuple[float, str]:
        if self.shared is None or self.clock() < self._redis_back_at:
            return self._take_locally(), ""
        try:
            # A slot whose answer is back but not yet told (Redis failing now) leaves at the end of its hold: safe.
            wait, slot = self.shared.try_take(hold, self._answered_slots())
        except REDIS_UNREACHABLE as error:
            with self._local_lock:
                self._redis_back_at = self.clock() + REDIS_RETRY_SECONDS
                first, self._warned = not self._warned, True
            if first:
                logger.warning("Redis unreachable: pacing Bybit requests in this process only (%d per %g s) until "
                               "it is back: %s: %s", self.limit.requests, self.limit.seconds, type(error).__name__,
                               error, extra={"ip_group": self.shared.key})
            return self._take_locally(), ""
        with self._local_lock:
            back, self._warned = self._warned, False
            if wait <= 0:
                self.local.note()
        if back:
            logger.info("Redis reachable again: Bybit requests paced across processes",
                        extra={"ip_group": self.shared.key})
        return wait, slot

    def _take_locally(self) -> float:
        with self._local_lock:
            return self.local.try_take()


_pacers: dict[tuple[int, str, RequestWindow, str], Pacer] = {}
_pacers_lock = threading.Lock()


def address_pacer() -> Pacer:
    """This process's pacer for its address group, from the settings (BYBIT_IP_LIMIT, BYBIT_IP_GROUP) and the
    cache's Redis. Keyed by process id too: a forked worker child builds its own (its lock, its connections)."""
    limit = RequestWindow(*getattr(settings, "BYBIT_IP_LIMIT", (550, 5.0)))
    group = getattr(settings, "BYBIT_IP_GROUP", "default")
    location = _redis_location()
    key = (os.getpid(), group, limit, location)
    with _pacers_lock:
        pacer = _pacers.get(key)
        if pacer is None:
            client = redis.Redis.from_url(location, socket_timeout=1, socket_connect_timeout=0.5) if location \
                else None
            pacer = _pacers[key] = Pacer(limit, RedisWindow(client, group, limit) if client else None)
        return pacer


def _redis_location() -> str:
    """The cache's Redis (REDIS_URL, or the embedded server's socket): the one every process of the bot reaches."""
    cache = getattr(settings, "CACHES", {}).get("default", {})
    location = cache.get("LOCATION", "") if cache.get("BACKEND", "").endswith("RedisCache") else ""
    return location if isinstance(location, str) else ""
