"""Bybit's limit per IP, kept through Redis (exchange.ratelimit): real processes, a real Redis, requests counted where
they arrive (a loopback server speaking Bybit's envelope)."""

from __future__ import annotations

import json
import logging
import math
import multiprocessing
import os
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import redis
from django.conf import settings

from exchange.bybit_http import BybitHttp
from exchange.ratelimit import KEY_PREFIX, Pacer, RedisWindow, RequestWindow, most_in_any_window
from tests.helpers import REPO
from tradebot.config import Env, SettingsError

# Without Redis a slot counts from when it was taken, and an arrival is timed a few ms later (a busy core): counted in
# windows that much shorter than the limit's, so that jitter cannot look like a breach. Through Redis a slot counts
# until its answer is back, so anything timed between the two is counted in the limit's own window.
JITTER = 0.05


@pytest.fixture
def group():
    name = f"test-{uuid.uuid4().hex[:8]}"
    yield name
    redis.Redis.from_url(settings.REDIS_URL).delete(KEY_PREFIX + name)


def _hammer(redis_url: str, group: str, limit: RequestWindow, seconds: float, out) -> None:
    """A process of its own: 4 threads taking slots as fast as they are granted for ``seconds``."""
    pacer = Pacer(limit, RedisWindow(redis.Redis.from_url(redis_url), group, limit))
    grants: list[float] = []
    deadline = time.time() + seconds

    def take():
        while time.time() < deadline:
            slot = pacer.take(hold=1.0)
            grants.append(time.time())  # a request "sent" between its slot and its answer
            pacer.done(slot)

    threads = [threading.Thread(target=take) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    out.put(grants)


def test_two_processes_together_never_pass_more_than_the_limit_in_any_window(group):
    limit = RequestWindow(20, 1.0)
    context = multiprocessing.get_context("fork")  # each builds its own pacer and Redis connection after the fork
    out = context.Queue()
    processes = [context.Process(target=_hammer, args=(settings.REDIS_URL, group, limit, 2.5, out))
                 for _ in range(2)]
    for process in processes:
        process.start()
    grants = [out.get(timeout=60), out.get(timeout=60)]
    for process in processes:
        process.join(10)
    both = grants[0] + grants[1]
    assert grants[0] and grants[1]  # both processes were served
    assert most_in_any_window(both, limit.seconds) <= limit.requests
    # Asked without pause for 2.5 s: more than two windows' worth went, and never more than one per started window.
    span = max(both) - min(both)
    assert 2 * limit.requests < len(both) <= limit.requests * (math.floor(span / limit.seconds) + 1)


class _Arrivals(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):  # noqa: N802 - http.server's naming
        self.server.arrivals.append(time.time())
        now = time.time_ns()
        body = json.dumps({"retCode": 0, "retMsg": "OK", "result": {"timeSecond": str(now // 10**9),
                                                                    "timeNano": str(now)},
                           "retExtInfo": {}, "time": now // 10**6}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args):  # noqa: A002 - quiet
        pass


def test_an_answered_slot_counts_from_the_next_take_or_once_enough_wait(group, monkeypatch):
    client = redis.Redis.from_url(settings.REDIS_URL)
    limit = RequestWindow(500, 5.0)
    pacer = Pacer(limit, RedisWindow(client, group, limit))
    first = pacer.take(hold=30.0)
    in_flight = client.zscore(KEY_PREFIX + group, first)
    pacer.done(first)  # queued: no round trip of its own
    assert client.zscore(KEY_PREFIX + group, first) == in_flight  # still held to the end of its timeout

    pacer.take(hold=30.0)  # the next request's call tells Redis: the first now counts from about its answer
    told = client.zscore(KEY_PREFIX + group, first)
    assert told < in_flight - 25_000

    monkeypatch.setattr("exchange.ratelimit.FLUSH_ANSWERED", 3)
    slots = [pacer.take(hold=30.0) for _ in range(3)]
    held = [client.zscore(KEY_PREFIX + group, slot) for slot in slots]
    for slot in slots:
        pacer.done(slot)  # the third answer sends the three on their own: a process that stops sending tells all
    assert all(client.zscore(KEY_PREFIX + group, slot) < score - 25_000 for slot, score in zip(slots, held,
                                                                                               strict=True))


@pytest.fixture
def counting_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Arrivals)
    server.daemon_threads = True
    server.arrivals = []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


def test_every_request_of_the_bybit_adapter_takes_a_slot_of_the_settings_window(counting_server, group, settings):
    settings.BYBIT_IP_LIMIT, settings.BYBIT_IP_GROUP = (5, 1.0), group  # what BybitHttp builds by default
    url = f"http://127.0.0.1:{counting_server.server_address[1]}"
    http = BybitHttp(base_url=url)
    started = time.monotonic()
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: http.call("get_server_time"), range(12)))
    elapsed = time.monotonic() - started
    assert all(answer["timeSecond"] for answer in answers)
    assert len(counting_server.arrivals) == 12
    assert most_in_any_window(counting_server.arrivals, 1.0) <= 5
    assert elapsed >= 2.0  # 5 at once, 5 a second later, the last 2 a second after that
    assert redis.Redis.from_url(settings.REDIS_URL).zcard(KEY_PREFIX + group) > 0  # counted in Redis, for all


def test_without_redis_the_process_paces_itself_and_says_so_once(counting_server, caplog):
    limit = RequestWindow(3, 0.5)
    unreachable = redis.Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.5)
    pacer = Pacer(limit, RedisWindow(unreachable, "nowhere", limit))
    http = BybitHttp(base_url=f"http://127.0.0.1:{counting_server.server_address[1]}", pacer=pacer)
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="exchange.ratelimit"):
        answers = [http.call("get_server_time") for _ in range(7)]
    elapsed = time.monotonic() - started
    assert len(answers) == 7 and len(counting_server.arrivals) == 7
    assert most_in_any_window(counting_server.arrivals, limit.seconds - JITTER) <= limit.requests
    assert elapsed >= 1.0 - JITTER  # 3, 3 half a second later, 1 half a second after that
    warnings = [record for record in caplog.records if record.name == "exchange.ratelimit"]
    assert len(warnings) == 1 and warnings[0].exc_info is None
    assert "Redis unreachable: pacing Bybit requests in this process only (3 per 0.5 s)" in warnings[0].getMessage()


@pytest.mark.parametrize(("value", "message"), [
    ("700/5", "BYBIT_IP_LIMIT: 700/5 lets up to 700 requests through in 5 s, over the exchange's 600 per 5 s per IP"),
    ("200/1", "BYBIT_IP_LIMIT: 200/1 lets up to 1000 requests through in 5 s, over the exchange's 600 per 5 s per IP"),
    ("lots", "BYBIT_IP_LIMIT: expected N/S (at most N requests in any S seconds), e.g. 550/5, got 'lots'"),
    ("0/5", "BYBIT_IP_LIMIT: expected N >= 1 requests in S seconds between 0.1 and 3600, got '0/5'"),
])
def test_a_limit_over_bybits_is_refused_with_what_to_use(value, message):
    with pytest.raises(SettingsError) as refused:
        Env({"BYBIT_IP_LIMIT": value}).request_window("BYBIT_IP_LIMIT", "550/5", limit=600, per_seconds=5)
    assert str(refused.value).startswith(message)


def test_a_good_limit_and_group_are_read():
    env = Env({"BYBIT_IP_LIMIT": "110/1", "BYBIT_IP_GROUP": "eu-nat-1"})
    assert env.request_window("BYBIT_IP_LIMIT", "550/5", limit=600, per_seconds=5) == (110, 1.0)
    assert env.name("BYBIT_IP_GROUP", "default") == "eu-nat-1"


def test_a_bad_limit_stops_start_up_with_one_line(tmp_path):
    result = subprocess.run([sys.executable, "manage.py", "check"], cwd=REPO, capture_output=True, text=True,
                            env={**os.environ, "TRADEBOT_DATA_DIR": str(tmp_path), "BYBIT_IP_LIMIT": "1000/5"},
                            timeout=120)
    assert result.returncode == 2
    assert result.stderr.strip().startswith("Configuration error: BYBIT_IP_LIMIT: 1000/5 lets up to 1000 requests "
                                            "through in 5 s, over the exchange's 600 per 5 s per IP")
    assert "Traceback" not in result.stderr
