"""``manage.py runbot`` (what ``make run`` starts) on a clean data folder: embedded Redis, daphne, worker
and beat as separate processes; login with the printed password; an event from the worker reaches a
browser socket; Ctrl-C stops everything and leaves no orphan."""

import json
import os
import re
import signal

import pytest
import requests
import websocket
from celery import Celery

from tests.helpers import ManagedProcess, alive, descendants, free_port, wait_until
from tradebot.config import embedded_redis_socket

pytestmark = pytest.mark.slow


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'tradebot.sqlite3'}"
    return request.getfixturevalue("fresh_database_url")


def test_the_embedded_run_serves_logs_in_streams_events_and_stops_cleanly(database_url, tmp_path):
    port = free_port()
    env = {key: value for key, value in os.environ.items() if key != "REDIS_URL"}
    env.update(DATABASE_URL=database_url, TRADEBOT_DATA_DIR=str(tmp_path))
    bot = ManagedProcess(["manage.py", "runbot", "--port", str(port), "--concurrency", "1"], env=env, name="runbot")
    bot.start()
    try:
        base = f"http://127.0.0.1:{port}"
        password = wait_until(lambda: re.search(r"password: (\S+)", bot.output()), timeout=90,
                              what="the admin password", on_timeout=bot.output).group(1)
        wait_until(lambda: "worker@" in bot.output() and "ready." in bot.output(), timeout=60,
                   what="the worker", on_timeout=bot.output)
        children = descendants(bot.process.pid)
        assert len(children) >= 4  # redis, web, worker (and its pool), beat

        browser = requests.Session()
        first = browser.get(f"{base}/", allow_redirects=False)
        assert first.status_code == 302 and first.headers["Location"].startswith("/accounts/login/")
        browser.get(f"{base}/accounts/login/")
        login = browser.post(f"{base}/accounts/login/", data={
            "username": "admin", "password": password, "csrfmiddlewaretoken": browser.cookies["csrftoken"]},
            headers={"Referer": f"{base}/accounts/login/"}, allow_redirects=False)
        assert login.status_code == 302, login.text
        assert "Strategies" in browser.get(f"{base}/admin/").text
        assert browser.get(f"{base}/admin/strategies/strategy/").status_code == 200
        assert browser.get(f"{base}/api/schema/").status_code == 200

        socket = websocket.create_connection(
            f"ws://127.0.0.1:{port}/ws/", origin=base, timeout=30,
            cookie=f"sessionid={browser.cookies['sessionid']}")
        broker = f"redis+socket://{embedded_redis_socket(tmp_path)}?virtual_host=0"
        Celery(broker=broker).send_task("trades.tasks.run_active_strategies", kwargs={"trigger": "e2e"})
        events = [json.loads(socket.recv())]
        while events[-1]["event"] != "botStatus":  # market updates of the demo strategy's symbols come too
            events.append(json.loads(socket.recv()))
        socket.close()
        assert events[-1]["data"]["last_cycle_status"] == "ok"
    finally:
        bot.send_signal(signal.SIGINT)
        bot.process.wait(90)
    assert bot.process.returncode == 0, bot.output()
    assert "stopped" in bot.output()
    assert [pid for pid in children if alive(pid)] == []
