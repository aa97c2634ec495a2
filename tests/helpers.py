"""Small tools the tests share: a settable clock, waiting, child processes, the PostgreSQL maintenance connection,
and reports collected over the whole session and printed at its end."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


class SessionReport:
    """One object collected into during the whole test session (``collect(config)``) and, when ``filled``
    says it holds anything, printed under ``title`` at the end (``print_summary`` from a conftest's
    ``pytest_terminal_summary``), and also written to the file ``file_env`` names if that variable is set."""

    def __init__(self, title: str, create, *, filled, file_env: str | None = None):
        import pytest

        self.title, self.create, self.filled, self.file_env = title, create, filled, file_env
        self.key = pytest.StashKey()

    def collect(self, config):
        if self.key not in config.stash:
            config.stash[self.key] = self.create()
        return config.stash[self.key]

    def print_summary(self, terminalreporter, config) -> None:
        report = config.stash.get(self.key, None)
        if report is None or not self.filled(report):
            return
        terminalreporter.write_sep("=", self.title)
        terminalreporter.write_line(report.render())
        if self.file_env and os.environ.get(self.file_env):
            Path(os.environ[self.file_env]).write_text(report.render() + "\n")


class SetClock:
    """A ``now`` callable that returns whatever the test last set (default: the real time at creation)."""

    def __init__(self, now=None):
        if now is None:
            from django.utils import timezone

            now = timezone.now()
        self.now = now

    def __call__(self):
        return self.now


def wait_until(condition, *, timeout: float = 10, interval: float = 0.05, what: str = "the condition",
               on_timeout=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(interval)
    detail = f"\n--- output ---\n{on_timeout()}" if on_timeout else ""
    raise AssertionError(f"timed out after {timeout}s waiting for {what}{detail}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ManagedProcess:
    """A child Python process whose output is collected, stopped (with its children) at the end."""

    def __init__(self, args: list[str], *, env: dict, name: str, cwd: Path = REPO):
        self.argv = [sys.executable, *args]
        self.env = dict(env, PYTHONUNBUFFERED="1")
        self.name = name
        self.cwd = cwd
        self.process: subprocess.Popen | None = None
        self._lines: list[str] = []
        self._lock = threading.Lock()

    def start(self):
        self.process = subprocess.Popen(self.argv, cwd=self.cwd, env=self.env, stdout=subprocess.PIPE,
                                        stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        threading.Thread(target=self._pump, daemon=True).start()
        return self

    def _pump(self):
        for raw in iter(self.process.stdout.readline, b""):
            with self._lock:
                self._lines.append(raw.decode(errors="replace"))

    def output(self) -> str:
        with self._lock:
            return "".join(self._lines)

    def send_signal(self, sig):
        self.process.send_signal(sig)

    def stop(self, timeout: float = 30):
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


def descendants(pid: int) -> set[int]:
    """Every living process below ``pid`` (read from /proc)."""
    found, frontier = set(), [pid]
    while frontier:
        parent = frontier.pop()
        for task in Path(f"/proc/{parent}/task").glob("*"):
            try:
                children = (task / "children").read_text().split()
            except OSError:
                continue
            for child in map(int, children):
                if child not in found:
                    found.add(child)
                    frontier.append(child)
    return found


def alive(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "\nState:\tZ" not in status


@contextmanager
def postgres_admin_connection():
    """Autocommit connection to the server's ``postgres`` database, for CREATE/DROP DATABASE."""
    import psycopg
    from django.conf import settings

    db = settings.DATABASES["default"]
    connection = psycopg.connect(host=db["HOST"], port=db["PORT"], user=db["USER"], password=db["PASSWORD"] or None,
                                 dbname="postgres", autocommit=True)
    try:
        yield connection
    finally:
        connection.close()
