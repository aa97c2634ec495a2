"""Shared by the security tests: the paper exchange fixture, and the API fuzzing summary (collected by
``fuzz_stats`` during the run, printed at its end)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import pytest

from exchange.factory import reset_exchange
from tests.helpers import SessionReport


@pytest.fixture
def paper(settings):
    """The app's exchange is the paper exchange on the bundled replay (reset before and after)."""
    settings.EXCHANGE_MODE, settings.MARKET_DATA = "paper", "replay"
    reset_exchange()
    yield
    reset_exchange()


@dataclass
class FuzzStats:
    operations: set[str] = field(default_factory=set)
    statuses: Counter = field(default_factory=Counter)
    server_errors: list[str] = field(default_factory=list)
    negative_cases: int = 0
    negative_refused: int = 0
    negative_ignored_query: int = 0  # only fault a blank or undeclared query parameter: held to "no 5xx" (see the test)
    unbreakable: set[str] = field(default_factory=set)

    def record(self, label: str, status: int, *, negative: bool, ignored_query: bool = False) -> None:
        self.operations.add(label)
        self.statuses[status] += 1
        if status >= 500:
            self.server_errors.append(f"{label} -> {status}")
        if negative:
            self.negative_cases += 1
            self.negative_refused += 400 <= status < 500
            self.negative_ignored_query += ignored_query and not 400 <= status < 500

    def render(self) -> str:
        requests = sum(self.statuses.values())
        by_class = ", ".join(f"{status}: {count}" for status, count in sorted(self.statuses.items()))
        other = self.negative_cases - self.negative_refused - self.negative_ignored_query
        return (f"operations: {len(self.operations)}   requests: {requests}   server errors: "
                f"{len(self.server_errors)}\nschema-violating requests: {self.negative_cases}: answered 4xx "
                f"{self.negative_refused}, 2xx with only a blank or undeclared query parameter "
                f"{self.negative_ignored_query}, "
                f"other {other} (operations with nothing to break: {len(self.unbreakable)})\n"
                f"statuses: {by_class}")


STATS = SessionReport("API fuzzing (schemathesis, the project's OpenAPI schema)", FuzzStats,
                      filled=lambda stats: stats.statuses)


@pytest.fixture(scope="session")
def fuzz_stats(request) -> FuzzStats:
    return STATS.collect(request.config)


def pytest_terminal_summary(terminalreporter, config):
    STATS.print_summary(terminalreporter, config)
