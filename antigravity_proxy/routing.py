"""The route table: ``routes.yaml`` parsed, validated and resolved to handlers.

``load_routes`` is pure (text in, ``Route`` list out) so every malformed-file case
is a unit test; ``resolve_handlers`` imports each dotted name once at start-up, so
a typo stops the gateway before it serves anything instead of failing per request.
Errors name the entry (its index and path) so the user can find it.

The default table ships inside the package (``antigravity_proxy/routes.yaml``,
package data, found with ``importlib.resources``), so a plain ``pip install``
can start. In a checkout the top-level ``routes.yaml`` is a symlink to that one
file: editing either edits the same table, and nothing can drift.
"""

from __future__ import annotations

import importlib
import importlib.resources
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import yaml

PROTOCOLS: Final = ("openai", "anthropic", "gemini", "mcp", "internal")
HTTP_METHODS: Final = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD")
ANY_METHODS: Final = ("GET", "POST", "PUT", "PATCH", "DELETE")
ENTRY_KEYS: Final = frozenset({"method", "path", "handler", "protocol", "enabled"})
# libyaml's safe loader where PyYAML has it: with the pure Python one, parsing
# this table was most of a worker's start-up (the master and each worker parse it).
SAFE_LOADER: Final[Any] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
DEFAULT_ROUTES_FILE: Final = Path(
    str(importlib.resources.files("antigravity_proxy").joinpath("routes.yaml"))
)

Handler = Callable[..., Any]


class RouteError(ValueError):
    """routes.yaml cannot be used; the message names the entry at fault."""


@dataclass(frozen=True, slots=True)
class Route:
    methods: tuple[str, ...]
    path: str
    handler: str
    protocol: str
    enabled: bool = True


def load_routes(text: str, source: str = "routes.yaml") -> list[Route]:
    """Parse and validate a route table; raise ``RouteError`` naming the entry."""
    try:
        data = yaml.load(text, Loader=SAFE_LOADER)  # noqa: S506 - a safe loader
    except yaml.YAMLError as exc:
        raise RouteError(f"{source}: not valid YAML: {exc}") from exc
    if not isinstance(data, list) or not data:
        raise RouteError(f"{source}: expected a non-empty list of route entries")
    routes = [
        _parse_entry(entry, f"{source}: entry {i + 1}") for i, entry in enumerate(data)
    ]
    _check_duplicates(routes, source)
    return routes


def load_routes_file(path: str | Path) -> list[Route]:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise RouteError(f"{path}: cannot read: {exc.strerror}") from exc
    return load_routes(text, str(path))


def resolve_handler(dotted: str) -> Handler:
    """Import ``package.module.function``; raise ``RouteError`` if it does not."""
    module_name, _, attr = dotted.rpartition(".")
    if not module_name:
        raise RouteError(f"handler {dotted!r}: expected a dotted name module.function")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise RouteError(
            f"handler {dotted!r}: cannot import {module_name}: {exc}"
        ) from exc
    handler = getattr(module, attr, None)
    if not callable(handler):
        raise RouteError(f"handler {dotted!r}: {module_name} has no function {attr!r}")
    return handler  # type: ignore[no-any-return]


def resolve_handlers(routes: Sequence[Route]) -> dict[str, Handler]:
    """Every enabled route's handler, imported once."""
    return {r.handler: resolve_handler(r.handler) for r in routes if r.enabled}


def _parse_entry(entry: Any, where: str) -> Route:
    if not isinstance(entry, dict):
        raise RouteError(f"{where}: expected a mapping")
    path = entry.get("path")
    if not isinstance(path, str) or not path.startswith("/"):
        raise RouteError(f"{where}: 'path' must be a string starting with '/'")
    where = f"{where} ({path})"
    unknown = sorted(set(entry) - ENTRY_KEYS)
    if unknown:
        raise RouteError(f"{where}: unknown key {unknown[0]!r}")
    handler = entry.get("handler")
    if not isinstance(handler, str) or "." not in handler:
        raise RouteError(f"{where}: 'handler' must be a dotted name")
    protocol = entry.get("protocol")
    if protocol not in PROTOCOLS:
        raise RouteError(
            f"{where}: unknown protocol {protocol!r}, "
            f"expected one of {', '.join(PROTOCOLS)}"
        )
    enabled = entry.get("enabled", True)
    if not isinstance(enabled, bool):
        raise RouteError(f"{where}: 'enabled' must be true or false")
    methods = _parse_methods(entry.get("method"), where)
    return Route(methods, path, handler, protocol, enabled)


def _parse_methods(value: Any, where: str) -> tuple[str, ...]:
    items = value if isinstance(value, list) else [value]
    methods: list[str] = []
    for item in items:
        if not isinstance(item, str):
            raise RouteError(
                f"{where}: 'method' must be a method name or a list of them"
            )
        name = item.upper()
        if name == "ANY":
            methods.extend(ANY_METHODS)
        elif name in HTTP_METHODS:
            methods.append(name)
        else:
            raise RouteError(f"{where}: unknown method {item!r}")
    return tuple(dict.fromkeys(methods))


def _check_duplicates(routes: Sequence[Route], source: str) -> None:
    seen: dict[tuple[str, str], int] = {}
    for index, route in enumerate(routes, start=1):
        for method in route.methods:
            key = (method, route.path)
            if key in seen:
                raise RouteError(
                    f"{source}: entry {index} ({route.path}): duplicate {method} "
                    f"{route.path}, already defined by entry {seen[key]}"
                )
            seen[key] = index
