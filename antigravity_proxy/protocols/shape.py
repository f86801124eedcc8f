"""Wire-shape checks at the protocol boundary: the JSON types translators rely on.

Translators read a field and branch on it (``kind in CALLABLE_TYPES``, a table
lookup by ``role``, a loop over ``tools``); a list where a string tag belongs
made that a ``TypeError`` and a 500. Each protocol declares, in one table
(``protocols/<p>/shapes.py``), the JSON kinds every such field may hold, and
the handler checks the parsed body against it before anything else reads it.

A rule is ``"input[].content[].type": "string"``: dotted keys, ``[]`` for
every element of an array, and the kinds separated by ``|`` (``string``,
``number``, ``integer``, ``boolean``, ``object``, ``array``). A field that is
absent or ``null`` passes (the translator decides whether it is required), and
so does a path whose parent has another shape (the parent's own rule, if any,
names that). The error uses OpenAI's wording, which names the field by its
concrete path (``input[2].content[0].type``) and sets ``param`` to it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final

from antigravity_proxy.errors import InvalidRequest

KIND_NAMES: Final[Mapping[str, str]] = {
    "string": "a string",
    "number": "a number",
    "integer": "an integer",
    "boolean": "a boolean",
    "object": "an object",
    "array": "an array",
}


@dataclass(frozen=True, slots=True)
class Rule:
    steps: tuple[str, ...]
    kinds: frozenset[str]
    allowed: frozenset[str]
    """``kinds`` plus ``integer`` where ``number`` is allowed."""


@dataclass(frozen=True, slots=True)
class Shape:
    """A compiled table of rules; build one per protocol at import time."""

    rules: tuple[Rule, ...]

    @classmethod
    def of(cls, table: Mapping[str, str]) -> Shape:
        rules = []
        for pattern, kinds in table.items():
            names = frozenset(kinds.split("|"))
            unknown = names - KIND_NAMES.keys()
            if unknown:
                raise ValueError(f"shape rule {pattern!r}: unknown kinds {unknown}")
            rules.append(Rule(_steps(pattern), names, _allowed(names)))
        return cls(tuple(rules))


def check_shape(body: Any, shape: Shape) -> None:
    """``InvalidRequest`` naming the first field whose JSON kind is not allowed.

    Why two walks: an agent's body holds thousands of blocks, and naming each
    one's path costs more than checking it; paths are spelled out only once a
    value is known to be wrong.
    """
    for rule in shape.rules:
        for value in _reached(body, rule.steps):
            if value is not None and kind_of(value) not in rule.allowed:
                raise _first_wrong(body, rule)


def _reached(body: Any, steps: tuple[str, ...]) -> list[Any]:
    """Every value the steps reach from ``body``, breadth first, without paths."""
    level = [body]
    for step in steps:
        if step == "[]":
            level = [item for node in level if isinstance(node, list) for item in node]
        else:
            level = [
                node[step] for node in level if isinstance(node, dict) and step in node
            ]
    return level


def _first_wrong(body: Any, rule: Rule) -> InvalidRequest:
    """The error for the first value, in document order, that breaks ``rule``."""
    wrong = (
        (path, value)
        for path, value in _walk(body, rule.steps, "")
        if value is not None and kind_of(value) not in rule.allowed
    )
    path, value = next(wrong)
    return _wrong_kind(path, rule.kinds, value)


def kind_of(value: Any) -> str:
    """The JSON kind of a parsed value (``null`` never reaches here)."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def _allowed(kinds: frozenset[str]) -> frozenset[str]:
    """An integer is a number too."""
    return kinds | {"integer"} if "number" in kinds else kinds


def _steps(pattern: str) -> tuple[str, ...]:
    steps: list[str] = []
    for key in pattern.split("."):
        name = key.rstrip("[]")
        steps.append(name)
        steps.extend("[]" for _ in range((len(key) - len(name)) // 2))
    return tuple(steps)


def _walk(node: Any, steps: tuple[str, ...], path: str) -> Iterator[tuple[str, Any]]:
    """Every (concrete path, value) the steps reach from ``node``."""
    if not steps:
        yield path, node
        return
    step, rest = steps[0], steps[1:]
    if step == "[]":
        if isinstance(node, list):
            for index, item in enumerate(node):
                yield from _walk(item, rest, f"{path}[{index}]")
    elif isinstance(node, dict) and step in node:
        yield from _walk(node[step], rest, f"{path}.{step}" if path else step)


def _wrong_kind(path: str, kinds: frozenset[str], value: Any) -> InvalidRequest:
    expected = " or ".join(KIND_NAMES[k] for k in sorted(kinds))
    got = KIND_NAMES[kind_of(value)]
    return InvalidRequest(
        f"Invalid type for '{path}': expected {expected}, but got {got} instead.",
        param=path,
    )
