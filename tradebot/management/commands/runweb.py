"""``manage.py runweb``: the web server, as ``WEB_PROCESSES`` daphne processes sharing one listening socket.

One daphne process runs Python on one core at a time (the GIL), so it tops out long before a 2-core machine
does (benchmarks/load_bench.py). This command binds the address once and hands the socket to each daphne
process (``--fd``); the kernel spreads the connections among them. Each process keeps a small PostgreSQL
connection pool (``DATABASE_POOL_SIZE``, set here for these processes only, one connection per thread). If one
process dies, the others are stopped and the command exits with its code, so whatever supervises it
(``runbot``, Docker) restarts the whole web server.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

from django.conf import settings
from django.core.management import BaseCommand

from dashboard.consumers import RENDER_THREADS
from tradebot.supervisor import die_with_parent


def listening_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(1024)
    sock.set_inheritable(True)
    return sock


def daphne_argv(fd: int) -> list[str]:
    argv = [sys.executable, "-m", "daphne", "--fd", str(fd), "--proxy-headers"]
    if not settings.WEB_ACCESS_LOG:
        argv += ["--access-log", os.devnull]
    return [*argv, "tradebot.asgi:application"]


class Command(BaseCommand):
    help = "Run the web server: WEB_PROCESSES daphne processes on one socket (what runbot and Docker start)."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1", help="Address to listen on (default 127.0.0.1).")
        parser.add_argument("--port", type=int, default=8000, help="Port to listen on (default 8000).")

    def handle(self, *args, host, port, **options):
        sock = listening_socket(host, port)
        # One connection per HTTP thread and per live-fragment thread: nobody waits for the pool.
        env = dict(os.environ, DATABASE_POOL_SIZE=str(settings.MAX_CONCURRENT_REQUESTS + RENDER_THREADS))
        children = [subprocess.Popen(daphne_argv(sock.fileno()), env=env, pass_fds=[sock.fileno()],
                                     preexec_fn=die_with_parent)  # no orphan if this process is killed
                    for _ in range(settings.WEB_PROCESSES)]
        self.stdout.write(f"web: {len(children)} daphne process(es) on http://{host}:{port}/", ending="\n")
        self.stdout.flush()
        stopping = []
        signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
        signal.signal(signal.SIGINT, lambda *_: stopping.append(True))
        code = 0
        while not stopping:
            exited = [child for child in children if child.poll() is not None]
            if exited:
                code = exited[0].returncode or 1
                self.stderr.write(f"web: a daphne process exited with code {exited[0].returncode}; stopping the others")
                break
            time.sleep(0.5)
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 15
        for child in children:
            try:
                child.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        sock.close()
        raise SystemExit(code)
