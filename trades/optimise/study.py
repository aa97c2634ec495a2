"""Optuna's studies, stored in the project's database through Optuna's RDB storage, so every worker sharing the
database shares the studies.

- PostgreSQL: the same database as Django, in a schema of its own (``optuna``), so Optuna's tables ("studies",
  "trials", "version_info" ...) never meet Django's, and Django's test flushes never touch them.
- SQLite (the embedded default): a separate file next to Django's (``optuna.sqlite3``), so the optimiser's many
  small writes do not fight the trading cycle for the one write lock of ``tradebot.sqlite3``.

Optuna creates its tables on first use (the launcher's, before any trial is queued). Each process has its own
storage and connection pool (a trial makes a dozen small queries: opening a connection for each cost 4x the time);
a forked child (a Celery pool process, ``manage.py optimise --local``) drops its parent's pool without closing the
parent's connections, and ``close`` ends the pool (the tests, before their database is dropped). Samplers are not
stored by Optuna: each process builds its own from the run's settings (``sampler``), seeded per trial so that two
processes never draw the same sequence.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from urllib.parse import quote

import optuna
from django.db import connections
from optuna.samplers import BaseSampler, NSGAIISampler, RandomSampler, TPESampler
from optuna.storages import BaseStorage, InMemoryStorage, RDBStorage
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool

SCHEMA = "optuna"
SQLITE_FILE = "optuna.sqlite3"
TPE, NSGA2, GRID, RANDOM = "tpe", "nsga2", "grid", "random"
SAMPLERS = (TPE, NSGA2, GRID, RANDOM)

# Optuna's "Trial 3 finished with value ..." lines through the project's structured logs, warnings and up.
optuna.logging.disable_default_handler()
optuna.logging.enable_propagation()
optuna.logging.set_verbosity(logging.WARNING)

_storages: dict[tuple[int, str], BaseStorage] = {}


def _forget_parents_pools() -> None:
    for storage_ in _storages.values():
        engine = getattr(storage_, "engine", None)
        if engine is not None:
            engine.dispose(close=False)  # the connections are the parent's: leave them open for it
    _storages.clear()


os.register_at_fork(after_in_child=_forget_parents_pools)


def close() -> None:
    """End this process's pools (their connections closed): nothing keeps the database busy afterwards."""
    for storage_ in _storages.values():
        engine = getattr(storage_, "engine", None)
        if engine is not None:
            engine.dispose()
    _storages.clear()


def storage() -> BaseStorage:
    """This process's storage for the configured database (one per process: a forked child builds its own)."""
    url, engine_kwargs = storage_url(connections["default"].settings_dict)
    key = (os.getpid(), url)
    if key not in _storages:
        if url == "memory":  # Django on an in-memory SQLite (the benchmarks): one process, nothing to share
            _storages[key] = InMemoryStorage()
        else:
            if url.startswith("postgresql"):
                _ensure_schema(url, engine_kwargs)
            _storages[key] = RDBStorage(url, engine_kwargs=engine_kwargs)
    return _storages[key]


def storage_url(database: dict) -> tuple[str, dict]:
    """The SQLAlchemy URL and engine options of Optuna's storage, from Django's database settings."""
    engine = database["ENGINE"]
    if engine.endswith("sqlite3"):
        name = str(database["NAME"])
        if name == ":memory:" or name.startswith("file:memorydb"):
            return "memory", {}
        return f"sqlite:///{Path(name).resolve().parent / SQLITE_FILE}", {"connect_args": {"timeout": 30}}
    if engine.endswith("postgresql"):
        user = quote(database.get("USER") or "", safe="")
        password = quote(database.get("PASSWORD") or "", safe="")
        credentials = f"{user}:{password}@" if password else (f"{user}@" if user else "")
        options = {key: value for key, value in (database.get("OPTIONS") or {}).items()
                   if isinstance(value, str) and key != "options"}
        query = "&".join(f"{key}={quote(value, safe='')}" for key, value in sorted(options.items()))
        url = (f"postgresql+psycopg://{credentials}{database.get('HOST') or 'localhost'}:"
               f"{database.get('PORT') or 5432}/{quote(str(database['NAME']), safe='')}")
        url += f"?{query}" if query else ""
        return url, {"pool_pre_ping": True, "connect_args": {"options": f"-c search_path={SCHEMA}"}}
    raise RuntimeError(f"the optimiser stores its studies in PostgreSQL or SQLite, not {engine}")


def _ensure_schema(url: str, engine_kwargs: dict) -> None:
    engine = create_engine(url, **{**engine_kwargs, "poolclass": NullPool})
    try:
        with engine.begin() as connection:
            connection.execute(text(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}"))
    except DBAPIError:  # another process created it at the same moment (PostgreSQL's race on IF NOT EXISTS)
        with engine.begin() as connection:
            connection.execute(text(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}"))
    finally:
        engine.dispose()


def create(name: str, directions: list[str]) -> optuna.Study:
    return optuna.create_study(storage=storage(), study_name=name, directions=directions)


def load(name: str, sampler: BaseSampler | None = None) -> optuna.Study:
    return optuna.load_study(study_name=name, storage=storage(), sampler=sampler)


def sampler(kind: str, *, objectives: int, trials: int, seed: int | None, cell: dict | None = None) -> BaseSampler:
    """The sampler a process asks with. A grid's slot *n* is the grid's cell *n* (``Space.cell``): its sampler
    answers with that cell, so every cell is tried once however many workers share the grid."""
    if kind == GRID:
        return CellSampler(cell or {})
    if kind == TPE:
        # constant_liar: a trial still running elsewhere counts as a poor result, so parallel workers spread out.
        return TPESampler(seed=seed, constant_liar=True, n_startup_trials=min(10, max(2, trials // 5)))
    if kind == NSGA2:
        return NSGAIISampler(seed=seed, population_size=max(4, min(50, trials // 5)))
    if kind == RANDOM:
        return RandomSampler(seed=seed)
    raise ValueError(f"unknown sampler {kind!r}")


class CellSampler(BaseSampler):
    """Answers every parameter with one grid cell's value."""

    def __init__(self, cell: dict):
        self.cell = cell

    def infer_relative_search_space(self, study, trial):
        return {}

    def sample_relative(self, study, trial, search_space):
        return {}

    def sample_independent(self, study, trial, param_name, param_distribution):
        return self.cell[param_name]


def delete(name: str) -> None:
    try:
        optuna.delete_study(study_name=name, storage=storage())
    except KeyError:  # never made, or already gone
        pass
