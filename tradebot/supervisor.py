"""Runs the whole bot in the foreground: embedded Redis, daphne, Celery worker and beat, the market stream and, when
enabled, the Telegram control bot.

Each part is a real separate process, as in production. The supervisor starts Redis first and
stops it last, restarts a part that dies (with backoff, and gives up if one keeps dying), prefixes
every output line with the part's name, and on Ctrl-C or SIGTERM stops the parts in reverse order.
Children run in their own process group (so Ctrl-C reaches only the supervisor, which controls the
order) and are told by the kernel to stop if the supervisor itself is killed: no orphans.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

PR_SET_PDEATHSIG = 1
RESTART_WINDOW_SECONDS = 300
MAX_RESTARTS_IN_WINDOW = 5


def die_with_parent():  # runs in the child between fork and exec
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except OSError:
        pass


@dataclass
class Part:
    name: str
    argv: list[str]
    stop_timeout: float = 20.0
    ready: callable = None  # returns True once the part is serving
    process: subprocess.Popen | None = None
    restarts: deque = field(default_factory=deque)
    next_start: float = 0.0


class Supervisor:
    def __init__(self, parts: list[Part], *, env: dict | None = None, out=None):
        self.parts = parts
        self.env = dict(os.environ if env is None else env, PYTHONUNBUFFERED="1")
        self.out = out or sys.stdout
        self.stopping = threading.Event()
        self.exit_code = 0
        self._print_lock = threading.Lock()
        self._width = max(len(part.name) for part in parts)

    # Output
    def say(self, name: str, line: str) -> None:
        with self._print_lock:
            self.out.write(f"{name:<{self._width}} | {line}\n")
            self.out.flush()

    def _pump(self, part: Part, stream) -> None:
        for raw in iter(stream.readline, b""):
            self.say(part.name, raw.decode(errors="replace").rstrip())
        stream.close()

    # Lifecycle
    def start(self, part: Part) -> None:
        part.process = subprocess.Popen(
            part.argv, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True, preexec_fn=die_with_parent)
        threading.Thread(target=self._pump, args=(part, part.process.stdout), daemon=True).start()
        if part.ready:
            deadline = time.monotonic() + 30
            while not part.ready():
                if part.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"{part.name} did not start (exit code {part.process.poll()})")
                time.sleep(0.1)

    def stop(self, part: Part) -> None:
        process = part.process
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(part.stop_timeout)
        except subprocess.TimeoutExpired:
            self.say("bot", f"{part.name} did not stop within {part.stop_timeout:.0f}s; killing it")
            process.kill()
            process.wait()

    def request_stop(self, *_args) -> None:
        self.stopping.set()

    def run(self) -> int:
        signal.signal(signal.SIGINT, self.request_stop)
        signal.signal(signal.SIGTERM, self.request_stop)
        try:
            for part in self.parts:
                if self.stopping.is_set():
                    break
                self.start(part)
            while not self.stopping.wait(0.5):
                self._watch()
        except RuntimeError as error:
            self.say("bot", str(error))
            self.exit_code = 1
        finally:
            self.say("bot", "stopping…")
            for part in reversed(self.parts):
                self.stop(part)
            self.say("bot", "stopped")
        return self.exit_code

    def _watch(self) -> None:
        now = time.monotonic()
        for part in self.parts:
            code = part.process.poll() if part.process else None
            if code is None:
                continue
            if part.next_start == 0.0:
                while part.restarts and now - part.restarts[0] > RESTART_WINDOW_SECONDS:
                    part.restarts.popleft()
                if len(part.restarts) >= MAX_RESTARTS_IN_WINDOW:
                    self.say("bot", f"{part.name} exited {MAX_RESTARTS_IN_WINDOW} times in "
                                    f"{RESTART_WINDOW_SECONDS // 60} minutes; stopping the bot")
                    self.exit_code = 1
                    self.stopping.set()
                    return
                delay = min(30.0, 2.0 ** len(part.restarts))
                part.restarts.append(now)
                part.next_start = now + delay
                self.say("bot", f"{part.name} exited with code {code}; restarting in {delay:.0f}s")
            elif now >= part.next_start:
                part.next_start = 0.0
                self.start(part)


def redis_part(executable: str, socket_path: Path, data_dir: Path) -> Part:
    def ready() -> bool:
        import redis

        try:
            return redis.Redis(unix_socket_path=str(socket_path), socket_timeout=1).ping()
        except (redis.ConnectionError, redis.TimeoutError, FileNotFoundError):
            return False

    argv = [executable, "--port", "0", "--unixsocket", str(socket_path), "--unixsocketperm", "700",
            "--daemonize", "no", "--save", "", "--appendonly", "no", "--dir", str(data_dir),
            "--loglevel", "warning"]
    return Part("redis", argv, stop_timeout=10, ready=ready)


def bot_parts(*, host: str, port: int, concurrency: int, telegram: bool = False) -> list[Part]:
    """The bot's processes; ``telegram`` adds the Telegram control bot (TELEGRAM_COMMANDS_ENABLED)."""
    python = sys.executable
    manage = Path(__file__).resolve().parent.parent / "manage.py"

    def web_ready() -> bool:
        import socket

        try:
            with socket.create_connection((host, port), timeout=0.5):
                return True
        except OSError:
            return False

    return [
        Part("web", [python, str(manage), "runweb", "--host", host, "--port", str(port)], ready=web_ready),
        Part("worker", [python, "-m", "celery", "-A", "tradebot", "worker", "--loglevel", "INFO",
                        "--concurrency", str(concurrency), "--hostname", "worker@%h", "--without-gossip",
                        "--without-mingle"], stop_timeout=60),
        Part("beat", [python, "-m", "celery", "-A", "tradebot", "beat", "--loglevel", "INFO", "--pidfile", "",
                      "--scheduler", "django_celery_beat.schedulers:DatabaseScheduler"]),
        Part("market", [python, str(manage), "stream_market"]),
        *([Part("telegram", [python, str(manage), "telegram_bot"])] if telegram else []),
    ]
