"""The strategy classes this process knows (the built-ins and the files of ``STRATEGY_DIRS``), read once and again
when a file changed (``refresh``: the cycle calls it at its start, never during a cycle)."""

from __future__ import annotations

from django.conf import settings

from strategies.sdk.base import IStrategy
from strategies.sdk.registry import Catalogue, Registry

_registry: Registry | None = None


def registry() -> Registry:
    global _registry
    if _registry is None or _registry.dirs != list(settings.STRATEGY_DIRS):
        _registry = Registry(list(settings.STRATEGY_DIRS))  # a test (or a reload) that changed the folders
    return _registry


def catalogue() -> Catalogue:
    return registry().catalogue()


def refresh() -> Catalogue:
    return registry().refresh()


def strategy_class(key: str) -> type[IStrategy] | None:
    return catalogue().get(key)


def known_types() -> list[str]:
    return catalogue().keys()
