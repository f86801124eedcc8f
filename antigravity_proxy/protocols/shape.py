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


KIND_TYPES: Final[Mapping[type, str]] = {
    bool: "boolean",
    int: "integer",
    float: "number",
    str: "string",
    list: "array",
    dict: "object",
}
"""The Python type of each JSON kind as parsed; other types take ``kind_of``."""


@dataclass(frozen=True, slots=True)
class Rule:
    steps: tuple[str, ...]
    kinds: frozenset[str]
    allowed: frozenset[str]
    """``kinds`` plus ``integer`` where ``number`` is allowed."""
    types: frozenset[type]
    """The parsed types of ``allowed``, and ``None``'s: their values pass."""
    node: int
    """Where the rule's values are in ``check_shape``'s levels (``Shape.steps``)."""


@dataclass(frozen=True, slots=True)
class Shape:
    """A compiled table of rules; build one per protocol at import time.

    ``steps`` holds each distinct path prefix once, as (index of its parent
    prefix, last step), parents first; prefix 0 is the body itself. Rules that
    share a prefix (``messages[].content[]``) share its walk.
    """

    rules: tuple[Rule, ...]
    steps: tuple[tuple[int, str], ...]

    @classmethod
    def of(cls, table: Mapping[str, str]) -> Shape:
        rules = []
        prefixes: dict[tuple[str, ...], int] = {(): 0}
        for pattern, kinds in table.items():
            names = frozenset(kinds.split("|"))
            unknown = names - KIND_NAMES.keys()
            if unknown:
                raise ValueError(f"shape rule {pattern!r}: unknown kinds {unknown}")
            steps = _steps(pattern)
            for end in range(1, len(steps) + 1):
                prefixes.setdefault(steps[:end], len(prefixes))
            allowed = _allowed(names)
            types = frozenset(t for t, k in KIND_TYPES.items() if k in allowed)
            rules.append(
                Rule(steps, names, allowed, types | {type(None)}, prefixes[steps])
            )
        walk = tuple((prefixes[p[:-1]], p[-1]) for p in prefixes if p)
        return cls(tuple(rules), walk)


def check_shape(body: Any, shape: Shape) -> None:
    """``InvalidRequest`` naming the first field whose JSON kind is not allowed.

    Why levels rather than a walk per value: an agent's body holds thousands of
    blocks; each path prefix is followed once for all of them (a list at a time),
    each rule's values are checked by their types at C speed, and paths are
    spelled out only once a value is known to be wrong.
    """
    levels = [[body]]
    for parent, step in shape.steps:
        levels.append(_step(levels[parent], step))
    for rule in shape.rules:
        level = levels[rule.node]
        if not rule.types.issuperset(map(type, level)):
            _check_kinds(body, rule, level)


def _step(level: list[Any], step: str) -> list[Any]:
    """Every value one step reaches from the values of ``level``."""
    if step == "[]":
        return [item for node in level if isinstance(node, list) for item in node]
    return [node[step] for node in level if isinstance(node, dict) and step in node]


def _check_kinds(body: Any, rule: Rule, level: list[Any]) -> None:
    """The slow check, for a level holding a type ``rule.types`` does not list."""
    for value in level:
        if value is not None and kind_of(value) not in rule.allowed:
            raise _first_wrong(body, rule)


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
