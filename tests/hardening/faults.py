"""The fault harness: seeded runs, settling after the fault, the figures per fault and the printed table.

Every run of a fault gets its own seed, derived from one base seed (``FAULT_SEED``, random and printed
when unset), so a failing run is replayed with ``FAULT_SEED=<base> pytest tests/hardening -k <fault>``.
``FAULT_RUNS`` multiplies the number of runs (``FAULT_RUNS=10`` for a soak).

Recovery time is measured from the moment the fault fired to the first moment the database and the
exchange agree (``invariants.Findings.agree``). After the faulty cycle the harness calls the reconciler
at once, as a restarted worker does and as the next beat does (in a deployment the beat adds up to a
minute per pass). The reconciler's one deliberate wait, the minute it allows an order to appear on the
exchange before calling it never sent, is simulated: each pass after the first moves the reconciler's
clock one beat (60 s) ahead, and that minute is counted in the recovery time.
"""

from __future__ import annotations

import hashlib
import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

from django.utils import timezone

from tests.hardening.invariants import Findings, check
from trades.reconcile import reconcile

BEAT_SECONDS = 60
MAX_BEATS = 4


def no_sleep(seconds: float) -> None:
    """Backoff and fill polling without waiting: the faults, not the clock, are under test."""


def base_seed() -> int:
    return int(os.environ.get("FAULT_SEED") or random.SystemRandom().randrange(10**9))


def run_seed(base: int, fault: str, index: int) -> int:
    return int(hashlib.sha256(f"{base}:{fault}:{index}".encode()).hexdigest()[:12], 16)


def runs(default: int) -> int:
    return max(1, round(default * float(os.environ.get("FAULT_RUNS") or 1)))


@dataclass
class RunResult:
    fault: str
    seed: int
    plan: str
    fired: bool
    findings: Findings
    recovery: float | None  # seconds from the fault to agreement; None: they never agreed
    beats: int = 0  # reconciler passes it took
    errors: list[str] = field(default_factory=list)  # exceptions that escaped a cycle or a reconciliation

    def describe(self) -> str:
        lines = [f"{self.fault} seed {self.seed}: {self.plan}", *self.findings.lines(), *self.errors]
        return "\n    ".join(lines)


@dataclass
class FaultFigures:
    fault: str
    runs: int = 0
    fired: int = 0
    orders: int = 0
    duplicates: int = 0
    lost: int = 0
    unsettled: int = 0
    errors: int = 0
    max_recovery: float = 0.0
    max_beats: int = 0
    failures: list[RunResult] = field(default_factory=list)

    def add(self, result: RunResult) -> None:
        self.runs += 1
        self.fired += result.fired
        self.orders += result.findings.orders
        self.duplicates += len(result.findings.duplicates)
        self.lost += len(result.findings.lost)
        self.errors += bool(result.errors)
        if result.recovery is None:
            self.unsettled += 1
        else:
            self.max_recovery = max(self.max_recovery, result.recovery)
        self.max_beats = max(self.max_beats, result.beats)
        if not result.findings.safe or result.recovery is None or not result.fired:
            self.failures.append(result)

    def problems(self) -> str:
        return "\n  ".join(result.describe() for result in self.failures[:5])


class FaultTable:
    """The figures of every fault run in this session, printed at the end as a Markdown table."""

    COLUMNS = ("fault", "runs", "fired", "orders", "duplicates", "lost", "unsettled", "cycle errors",
               "max recovery (s)", "max beats")

    def __init__(self, seed: int):
        self.seed = seed
        self.rows: dict[str, FaultFigures] = {}

    def figures(self, fault: str) -> FaultFigures:
        return self.rows.setdefault(fault, FaultFigures(fault))

    def render(self) -> str:
        lines = [f"fault suite, FAULT_SEED={self.seed}", "",
                 "| " + " | ".join(self.COLUMNS) + " |", "|" + "|".join("---" for _ in self.COLUMNS) + "|"]
        for row in sorted(self.rows.values(), key=_numbered):
            cells = (row.fault, row.runs, row.fired, row.orders, row.duplicates, row.lost, row.unsettled, row.errors,
                     f"{row.max_recovery:.2f}", row.max_beats)
            lines.append("| " + " | ".join(str(cell) for cell in cells) + " |")
        return "\n".join(lines)


def _numbered(row: FaultFigures) -> int:
    """Faults are named after the issue's list ("5 PostgreSQL ..."): the table follows it."""
    number = row.fault.split(" ", 1)[0]
    return int(number) if number.isdigit() else 99


def settle(fake, exchange, start_balance: Decimal, *, fault_at: float | None,
           next_beat: Callable[[], None] | None = None) -> tuple[Findings, float | None, int, list[str]]:
    """Run the reconciler (and ``next_beat``, the cycle a beat would also run) until database and exchange
    agree. Returns the findings, the recovery time, the passes it took and any errors that escaped."""
    errors: list[str] = []
    start = fault_at if fault_at is not None else time.monotonic()
    for beat in range(MAX_BEATS + 1):
        findings = check(fake, start_balance)
        if findings.agree:
            return findings, time.monotonic() - start + max(0, beat - 1) * BEAT_SECONDS, beat, errors
        if beat == MAX_BEATS:
            break
        try:
            reconcile(exchange, now=timezone.now() + timedelta(seconds=beat * BEAT_SECONDS), sleep=no_sleep)
            if next_beat is not None:
                next_beat()
        except Exception as error:  # noqa: BLE001 - recorded: an escaped error is a finding, not a crash of the suite
            errors.append(f"beat {beat + 1}: {type(error).__name__}: {error}")
    return findings, None, MAX_BEATS, errors
