"""Pure helpers behind ``config.py``'s one-line errors.

- ``bounds``: the range of a numeric key, declared as dataclass field metadata
  (``field(default=..., metadata=bounds(1, 65535))``). A numeric key without it
  must be ``>= 0``, so a key added later is never silently negative.
- ``range_problem``: what is wrong with a number against its bounds, or ``None``.
- ``unknown_key_problem``: "unknown key" with a "did you mean" or the known keys.
- ``yaml_problem``: a PyYAML error as ``file:line:column: ...`` on one line.
- ``state_problem``: a known ``state.backend`` and, for Redis, a usable URL.
- ``line_of``: the line of a dotted key in the YAML text, to point at it.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import yaml

from antigravity_proxy.redis_url import url_problem

BOUNDS_KEY: Final = "bounds"
STATE_BACKENDS: Final = ("sqlite", "redis")


class ConfigError(ValueError):
    """The configuration cannot be used; the message names the key at fault."""


@dataclass(frozen=True, slots=True)
class Bounds:
    """``low <= value`` (``low < value`` when ``exclusive``), ``value <= high``."""

    low: float = 0
    high: float | None = None
    exclusive: bool = False


NON_NEGATIVE: Final = Bounds()


def bounds(
    low: float = 0, high: float | None = None, *, exclusive: bool = False
) -> dict[str, Bounds]:
    """Field metadata: ``bounds(1)`` is ">= 1", ``bounds(0, exclusive=True)`` "> 0"."""
    return {BOUNDS_KEY: Bounds(low, high, exclusive)}


def range_problem(value: float, limits: Bounds, *, integer: bool) -> str | None:
    """``None`` when ``value`` is inside ``limits``, else the complaint."""
    too_low = value <= limits.low if limits.exclusive else value < limits.low
    too_high = limits.high is not None and value > limits.high
    if not (too_low or too_high):
        return None
    if limits.high is not None:
        return f"expected {_num(limits.low)}-{_num(limits.high)}, got {_num(value)}"
    kind = "an integer" if integer else "a number"
    op = ">" if limits.exclusive else ">="
    return f"expected {kind} {op} {_num(limits.low)}, got {_num(value)}"


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def unknown_key_problem(key: str, known: Iterable[str]) -> str:
    """The complaint for an unknown key, suggesting the closest known one."""
    names = sorted(known)
    close = difflib.get_close_matches(key, names, n=1, cutoff=0.6)
    if close:
        return f"unknown key (did you mean {close[0]!r}?)"
    return f"unknown key (known here: {', '.join(names)})"


def state_problem(backend: str, url: str) -> str | None:
    """What is wrong with the ``state`` section, or ``None``; the URL is never quoted
    (it may carry a password)."""
    if backend not in STATE_BACKENDS:
        known = ", ".join(STATE_BACKENDS)
        return f"state.backend: expected one of {known}, got {backend!r}"
    if backend == "sqlite":
        return "state.url: only used with state.backend redis" if url else None
    problem = url_problem(url)
    return f"state.url: {problem}" if problem else None


def yaml_problem(path: Path, exc: yaml.YAMLError) -> str:
    """``path:line:column: not valid YAML: problem (context)`` on one line."""
    mark = getattr(exc, "problem_mark", None)
    where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    context = getattr(exc, "context", None)
    detail = f"{problem} ({context})" if context else problem
    return f"{where}: not valid YAML: {' '.join(detail.split())}"


def line_of(text: str, dotted: str) -> int | None:
    """The 1-based line where ``dotted`` (``server.port``) is set, if it is."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return None
    line = None
    for part in dotted.split("."):
        found = _child(node, part)
        if found is None:
            return line
        key_node, node = found
        line = key_node.start_mark.line + 1
    return line


def _child(node: Any, name: str) -> tuple[Any, Any] | None:
    if not isinstance(node, yaml.MappingNode):
        return None
    for key_node, value_node in node.value:
        if isinstance(key_node, yaml.ScalarNode) and key_node.value == name:
            return key_node, value_node
    return None


def leading_key(message: str) -> str | None:
    """The dotted key a ``"key: complaint"`` message starts with, if it has one."""
    head, sep, _ = message.partition(": ")
    return head if sep and re.fullmatch(r"[\w.-]+", head) else None
