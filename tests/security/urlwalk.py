"""Every route of the URL conf as a concrete path a client can call, so protection tests cover new routes too.

``routes()`` walks ``ROOT_URLCONF`` (every ``include``), turns each pattern into a path by putting a sample
value in each named group (the first candidate that the group's own regex accepts), and checks that the
path resolves back to the same view: a route is tested where it is, or the walk fails loudly.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.apps import apps
from django.urls import URLPattern, URLResolver, get_resolver, resolve

# Tried in order for each named group; the group's own regex picks the first that fits.
SAMPLES = {"symbol": ["BTCUSDT"], "name": ["status"], "order_id": ["no-such-order"]}
GENERIC = ["1", "BTCUSDT", "x"]
ALL_METHODS = ("GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE")
UNSAFE_METHODS = ("POST", "PUT", "PATCH", "DELETE")


@dataclass(frozen=True)
class Route:
    path: str
    regex: str
    name: str | None
    view: object

    @property
    def view_name(self) -> str:
        target = getattr(self.view, "cls", None) or getattr(self.view, "view_class", None) or self.view
        return f"{target.__module__}.{getattr(target, '__qualname__', repr(target))}"

    @property
    def declared_methods(self) -> tuple[str, ...] | None:
        """The methods a class-based view implements (DRF or Django), or None for a function view."""
        view_class = getattr(self.view, "cls", None) or getattr(self.view, "view_class", None)
        if view_class is None:
            return None
        return tuple(method.upper() for method in view_class.http_method_names if hasattr(view_class, method))


def routes() -> list[Route]:
    found = []
    for regex, view, name in _walk(get_resolver().url_patterns, ""):
        path = "/" + _materialize(regex)
        match = resolve(path)
        assert match.func == view, f"{regex!r} materialized as {path!r}, which resolves to another view"
        found.append(Route(path, regex, name, view))
    return found


def _walk(patterns, prefix: str):
    for pattern in patterns:
        regex = prefix + pattern.pattern.regex.pattern.lstrip("^")
        if isinstance(pattern, URLResolver):
            yield from _walk(pattern.url_patterns, regex)
        elif isinstance(pattern, URLPattern):
            yield regex, pattern.callback, pattern.name


def _materialize(regex: str) -> str:
    text = regex
    while (start := text.find("(?P<")) != -1:
        name = text[start + 4:text.index(">", start)]
        end = _closing_paren(text, start)
        inner = text[text.index(">", start) + 1:end]
        candidates = SAMPLES.get(name, []) + GENERIC + [config.label for config in apps.get_app_configs()]
        value = next((c for c in candidates if re.fullmatch(inner, c)), None)
        assert value is not None, f"no sample fits the group {name!r} ({inner!r}) in {regex!r}: add one to SAMPLES"
        text = text[:start] + value + text[end + 1:]
    for token in (r"\Z", "$"):
        text = text.removesuffix(token)
    text = text.replace("/?", "")  # the optional trailing slash of the API's re_paths: the seed's spelling
    text = re.sub(r"\\([.\-/])", r"\1", text)  # an escaped literal (path("favicon.ico") is favicon\.ico)
    assert not re.search(r"[\\()\[\]?*+|^$]", text), f"cannot turn {regex!r} into a path (left: {text!r})"
    return text


def _closing_paren(text: str, start: int) -> int:
    depth, index = 0, start
    while index < len(text):
        char = text[index]
        if char == "\\":
            index += 2  # an escaped character, e.g. \( or \d
            continue
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth == 0:
            return index
        index += 1
    raise AssertionError(f"unbalanced group in {text!r}")
