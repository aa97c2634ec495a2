"""Which strategy classes exist: the built-ins, plus every ``IStrategy`` subclass in the files of ``STRATEGY_DIRS``.

A file that cannot be loaded (a syntax error, an import that fails) or a class that is declared wrong (a bad
timeframe, a parameter whose default is outside its range, no entry hook) is reported as a ``LoadProblem`` with the
file and line: the page, ``manage.py list_strategies`` and the start-up log show it, and nothing crashes. Strategies
of that class hold their pairs until the file is fixed.

The catalogue is read once per process and again when a file changed (``refresh``, which the cycle calls at its
start, so a strategy never changes under a running cycle). Strategies are files the owner puts on the machine:
nothing is ever uploaded through the web or the API.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import logging
import pkgutil
import sys
import threading
import traceback
from dataclasses import dataclass, field
from pathlib import Path

from strategies.sdk.base import IStrategy

logger = logging.getLogger(__name__)

BUILTIN_PACKAGE = "strategies.builtin"
USER_MODULE_PREFIX = "user_strategies"


@dataclass(frozen=True)
class LoadProblem:
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


@dataclass(frozen=True)
class Catalogue:
    classes: dict[str, type[IStrategy]] = field(default_factory=dict)
    problems: tuple[LoadProblem, ...] = ()
    files: dict[str, float] = field(default_factory=dict)  # user file -> mtime it was read at
    origins: dict[str, str] = field(default_factory=dict)  # class key -> "built-in" or its file

    def get(self, key: str) -> type[IStrategy] | None:
        return self.classes.get(key)

    def keys(self) -> list[str]:
        return sorted(self.classes)


def scan(dirs: list[Path]) -> Catalogue:
    """Load the built-ins and every ``*.py`` file (not starting with ``_``) in ``dirs``."""
    classes: dict[str, type[IStrategy]] = {}
    origins: dict[str, str] = {}
    problems: list[LoadProblem] = []
    for module in _builtin_modules():
        _collect(module, "built-in", classes, origins, problems)
    files: dict[str, float] = {}
    for path in _user_files(dirs):
        files[str(path)] = path.stat().st_mtime
        try:
            module = _load_file(path)
        except Exception as error:  # noqa: BLE001 - anything in a user's file is reported, never raised
            problems.append(LoadProblem(str(path), _describe_load_error(error, path)))
            continue
        _collect(module, str(path), classes, origins, problems)
    for problem in problems:
        logger.warning("strategy not loaded: %s", problem)
    return Catalogue(classes=classes, problems=tuple(problems), files=files, origins=origins)


def changed(catalogue: Catalogue, dirs: list[Path]) -> bool:
    """True when a user file was added, removed or modified since ``catalogue`` was read."""
    current = {str(path): path.stat().st_mtime for path in _user_files(dirs)}
    return current != catalogue.files


class Registry:
    """The process's catalogue, re-read only when ``refresh`` finds a file changed."""

    def __init__(self, dirs: list[Path]):
        self.dirs = [Path(directory) for directory in dirs]
        self._lock = threading.Lock()
        self._catalogue: Catalogue | None = None

    def catalogue(self) -> Catalogue:
        with self._lock:
            if self._catalogue is None:
                self._catalogue = scan(self.dirs)
            return self._catalogue

    def refresh(self) -> Catalogue:
        """The catalogue, re-read first if a strategy file changed: called between cycles, never within one."""
        with self._lock:
            if self._catalogue is None or changed(self._catalogue, self.dirs):
                self._catalogue = scan(self.dirs)
            return self._catalogue


def _builtin_modules():
    package = importlib.import_module(BUILTIN_PACKAGE)
    for info in pkgutil.iter_modules(package.__path__):
        if not info.name.startswith("_"):
            yield importlib.import_module(f"{BUILTIN_PACKAGE}.{info.name}")


def _user_files(dirs: list[Path]) -> list[Path]:
    found = []
    for directory in dirs:
        directory = Path(directory)
        if directory.is_dir():
            found.extend(path for path in sorted(directory.glob("*.py")) if not path.name.startswith("_"))
    return found


def _load_file(path: Path):
    name = f"{USER_MODULE_PREFIX}.{path.stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses and pickling look the module up while it executes
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return module


def _collect(module, origin: str, classes: dict, origins: dict, problems: list) -> None:
    for _, cls in inspect.getmembers(module, inspect.isclass):
        if not issubclass(cls, IStrategy) or cls is IStrategy or cls.__module__ != module.__name__:
            continue
        if getattr(cls, "abstract", False) and "abstract" in vars(cls):
            continue  # a shared base for other strategies, not one to trade
        key = cls.key()
        where = f"{origin} ({cls.__name__})" if origin != "built-in" else f"built-in {cls.__name__}"
        class_problems = cls.check_class()
        if class_problems:
            problems.append(LoadProblem(origin, f"{cls.__name__}: {'; '.join(class_problems)}"))
            continue
        if key in classes:
            problems.append(LoadProblem(origin, f"{cls.__name__}: the name {key!r} is already taken by "
                                                f"{origins[key]}; rename the class (or set strategy_key)"))
            continue
        classes[key], origins[key] = cls, where


def _describe_load_error(error: Exception, path: Path) -> str:
    if isinstance(error, SyntaxError):
        return f"syntax error at line {error.lineno}: {error.msg}"
    inside = [frame for frame in traceback.extract_tb(error.__traceback__) if frame.filename == str(path)]
    line = f" at line {inside[-1].lineno}" if inside else ""
    return f"{type(error).__name__}{line}: {error}"
