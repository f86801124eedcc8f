"""JSON Schema → the schema dialect the upstream accepts in function ``parameters``.

Clients send JSON Schema (draft 2020-12 from Claude Code, OpenAI function schemas,
Gemini CLI's ``parametersJsonSchema``); the upstream validates ``parameters``
against Google's OpenAPI-subset ``Schema`` and rejects unknown keywords with a
400 for the whole request (protocol-translation.md §3.6 "JSON-schema cleaning").
``clean_schema`` resolves local ``$ref`` (cycles guarded), merges ``allOf``,
collapses ``anyOf``/``oneOf`` to one branch, turns ``null`` types into
``nullable: true``, keeps the keywords of ``KEPT`` and moves the constraints the
upstream cannot take into a description hint, so the model still sees them. It
is only ever applied to schemas, never to tool-call arguments.
"""

from __future__ import annotations

import copy
import functools
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import orjson

SchemaNode = dict[str, Any]

KNOWN_TYPES: Final = frozenset(
    {"string", "number", "integer", "boolean", "object", "array"}
)
SUPPORTED_FORMATS: Final[Mapping[str, frozenset[str]]] = {
    "string": frozenset({"enum", "date-time"}),
    "integer": frozenset({"int32", "int64"}),
    "number": frozenset({"float", "double"}),
}
COUNT_LIMITS: Final = (
    "minItems",
    "maxItems",
    "minLength",
    "maxLength",
    "minProperties",
    "maxProperties",
)
NUMBER_LIMITS: Final = ("minimum", "maximum")
HINTED: Final[Mapping[str, str]] = {
    "pattern": "pattern",
    "multipleOf": "multipleOf",
    "exclusiveMinimum": "exclMin",
    "exclusiveMaximum": "exclMax",
}
BRANCH_SCORE: Final[Mapping[str, int]] = {"object": 3, "array": 2}
SCHEMA_KEYWORDS: Final = frozenset(
    {
        "$ref", "$schema", "$id", "$defs", "definitions", "$comment", "type",
        "properties", "required", "items", "prefixItems", "enum", "const",
        "description", "title", "format", "default", "examples", "nullable",
        "anyOf", "oneOf", "allOf", "not", "additionalProperties",
        "patternProperties", "propertyNames", "dependentSchemas",
        "dependentRequired", "unevaluatedProperties", "unevaluatedItems", "if",
        "then", "else", "contains", "additionalItems", "deprecated", "readOnly",
        "writeOnly", "example", "$anchor", "$dynamicRef", "contentMediaType",
        "contentEncoding", *COUNT_LIMITS, *NUMBER_LIMITS, *HINTED,
    }
)  # fmt: skip
MAX_REF_DEPTH: Final = 16
# The memo of cleaned schemas: at most this many, each at most this large.
CACHED_SCHEMAS: Final = 512
CACHED_SCHEMA_BYTES: Final = 65536
KEPT: Final = ("type", "format", "title", "description", "nullable", "enum")


@dataclass(frozen=True, slots=True)
class _Refs:
    root: Mapping[str, Any]
    defs: Mapping[str, Any] = field(default_factory=dict)


def clean_schema(schema: Any) -> Any:
    """A version of ``schema`` the upstream accepts as function ``parameters``.

    The result is shared between requests that send the same schema (agents
    resend their whole tool set every turn, and cleaning it is a third of the
    translation): callers must not mutate it, and nothing here does. The input
    is never mutated either.

    Kept: ``type`` (one lower-case name), ``properties``, ``required`` (only
    names present in ``properties``), ``items``, ``enum`` (strings; ``const``
    becomes an enum of one), ``format`` (only int32/int64, float/double,
    enum/date-time), ``nullable``, ``title``, ``description``, ``minimum``,
    ``maximum``, ``min/maxItems``, ``min/maxLength``, ``min/maxProperties``.
    Dropped: ``$schema``, ``$id``, ``$defs``/``definitions`` (after resolving),
    ``additionalProperties``, ``patternProperties``, ``propertyNames``,
    ``unevaluated*``, ``not``, ``if``/``then``/``else``, ``default``,
    ``examples``, ``deprecated``, ``readOnly``/``writeOnly`` and any other
    keyword. Moved into the description as ``[Constraint: …]``: ``pattern``,
    ``multipleOf``, ``exclusiveMinimum``/``Maximum``, unsupported formats; enums
    on non-string types become ``Allowed: …``. Boolean sub-schemas are dropped
    (and their names removed from ``required``). Non-object input is returned
    as a copy.
    """
    if not isinstance(schema, Mapping):
        return copy.deepcopy(schema)
    key = _cache_key(schema)
    if key is None:
        return _clean_root(schema)
    return _cleaned(key)


def _cache_key(schema: Mapping[str, Any]) -> bytes | None:
    """The schema's exact JSON text, when it is JSON and small enough to keep."""
    try:
        key = orjson.dumps(schema)
    except TypeError:
        return None
    return key if len(key) <= CACHED_SCHEMA_BYTES else None


@functools.lru_cache(maxsize=CACHED_SCHEMAS)
def _cleaned(key: bytes) -> Any:
    """``_clean_root`` of the schema that ``key`` spells, memoised."""
    return _clean_root(orjson.loads(key))


def _clean_root(schema: Mapping[str, Any]) -> Any:
    refs = _Refs(root=schema, defs=_collect_defs(schema, {}))
    return _clean_node(schema, refs, ())


def _collect_defs(node: Any, found: dict[str, Any]) -> dict[str, Any]:
    """Every ``$defs``/``definitions`` entry at any depth, first one wins."""
    if isinstance(node, Mapping):
        for key in ("$defs", "definitions"):
            table = node.get(key)
            if isinstance(table, Mapping):
                for name, value in table.items():
                    found.setdefault(name, value)
        for value in node.values():
            _collect_defs(value, found)
    elif isinstance(node, list):
        for value in node:
            _collect_defs(value, found)
    return found


def _lookup(ref: str, refs: _Refs) -> Any:
    """A local ``$ref`` target: JSON pointer from the root, else by last segment."""
    if not ref.startswith("#"):
        return None
    target: Any = refs.root
    for token in [t for t in ref[1:].split("/") if t]:
        token = token.replace("~1", "/").replace("~0", "~")
        target = target.get(token) if isinstance(target, Mapping) else None
    if isinstance(target, Mapping):
        return target
    return refs.defs.get(ref.rsplit("/", 1)[-1])


def _merge(base: Mapping[str, Any], extra: Mapping[str, Any]) -> SchemaNode:
    """``extra`` merged into ``base``: properties and required unioned, base wins."""
    merged = dict(base)
    for key, value in extra.items():
        if key == "properties" and isinstance(value, Mapping):
            merged[key] = {**value, **_mapping(base.get(key))}
        elif key == "required" and isinstance(value, list):
            own = _list(base.get(key))
            merged[key] = own + [name for name in value if name not in own]
        else:
            merged.setdefault(key, value)
    return merged


def _expand(
    node: Mapping[str, Any], refs: _Refs, stack: tuple[str, ...]
) -> tuple[SchemaNode, tuple[str, ...]]:
    """Resolve this node's ``$ref`` chain and ``allOf`` (children stay raw)."""
    current = dict(node)
    while isinstance(current.get("$ref"), str):
        ref = current.pop("$ref")
        if ref in stack or len(stack) >= MAX_REF_DEPTH:
            current = _merge(current, {"type": "object"})
            return _with_hints(current, [f"(Recursive $ref: {ref})"]), stack
        target = _lookup(ref, refs)
        if target is None:
            current = _merge(current, {"type": "string"})
            current = _with_hints(current, [f"(Unresolved $ref: {ref})"])
            break
        stack = (*stack, ref)
        current = _merge(current, target)
    current.pop("$ref", None)
    for branch in _list(current.pop("allOf", None)):
        if isinstance(branch, Mapping):
            expanded, _ = _expand(branch, refs, stack)
            current = _merge(current, expanded)
    return current, stack


def _clean_node(
    raw: Mapping[str, Any], refs: _Refs, stack: tuple[str, ...]
) -> SchemaNode:
    node, stack = _expand(raw, refs, stack)
    if node and not SCHEMA_KEYWORDS.intersection(node):
        node = _shorthand_object(node)
    out, hints, nullable = _own_keywords(node)
    out.update(_children(node, refs, stack))
    branches = [b for key in ("anyOf", "oneOf") for b in _list(node.get(key))]
    if branches:
        out, nullable = _merge_best_branch(out, branches, refs, stack, nullable)
    return _finish(out, hints, nullable)


def _shorthand_object(node: Mapping[str, Any]) -> SchemaNode:
    """``{a: {...}, b: {...}}`` with no keyword at all is a properties map.

    Why: some MCP servers emit ``items: {field: {type: ...}}``; read literally it
    is an empty schema, which loses every field (reference §11.3 item 38).
    """
    if all(isinstance(value, Mapping) for value in node.values()):
        return {"type": "object", "properties": dict(node)}
    return dict(node)


def _own_keywords(node: Mapping[str, Any]) -> tuple[SchemaNode, list[str], bool]:
    """The node's scalar keywords, its description hints and its nullability."""
    type_name, accepts, nullable = _type_of(node.get("type"))
    out: SchemaNode = {} if type_name is None else {"type": type_name}
    hints = [f"Accepts: {' | '.join(accepts)}"] if len(accepts) > 1 else []
    nullable = nullable or node.get("nullable") is True
    for key in ("title", "description"):
        if isinstance(node.get(key), str):
            out[key] = node[key]
    enum, enum_hint, enum_null = _enum_of(node, type_name)
    if enum is not None:
        out["enum"] = enum
        out.setdefault("type", "string")
    hints += enum_hint
    out.update(_limits(node, type_name))
    fmt = node.get("format")
    if isinstance(fmt, str) and fmt in SUPPORTED_FORMATS.get(out.get("type", ""), ()):
        out["format"] = fmt
    hints += _constraint_hint(node, type_name, out.get("format"))
    return out, hints, nullable or enum_null


def _constraint_hint(
    node: Mapping[str, Any], type_name: str | None, kept_format: str | None
) -> list[str]:
    """``[Constraint: …]`` for what the upstream cannot enforce, so the model can."""
    converted = _integer_bounds(node, type_name)
    constraints = [
        f"{label}: {_text(node[key])}"
        for key, label in HINTED.items()
        if key in node and key not in converted
    ]
    fmt = node.get("format")
    if isinstance(fmt, str) and fmt != kept_format:
        constraints.append(f"format: {fmt}")
    return [f"[Constraint: {', '.join(constraints)}]"] if constraints else []


def _type_of(value: Any) -> tuple[str | None, list[str], bool]:
    """One type name, every accepted non-null name, and whether null is allowed."""
    names = [value] if isinstance(value, str) else _list(value)
    lowered = [n.lower() for n in names if isinstance(n, str)]
    accepted = [n for n in dict.fromkeys(lowered) if n in KNOWN_TYPES]
    nullable = "null" in lowered
    return (accepted[0] if accepted else None), accepted, nullable


def _enum_of(
    node: Mapping[str, Any], type_name: str | None
) -> tuple[list[str] | None, list[str], bool]:
    """String enum values, or an ``Allowed:`` hint for non-string types.

    Why: the upstream's ``enum`` holds strings only; ``const`` is an enum of one.
    """
    values = node.get("enum")
    if not isinstance(values, list):
        values = [node["const"]] if "const" in node else None
    if values is None:
        return None, [], False
    present = [v for v in values if v is not None]
    nullable = len(present) < len(values)
    if not present:
        return None, [], nullable
    if type_name in (None, "string"):
        return [v if isinstance(v, str) else _text(v) for v in present], [], nullable
    return None, [f"Allowed: {', '.join(_text(v) for v in present)}"], nullable


def _limits(node: Mapping[str, Any], type_name: str | None) -> SchemaNode:
    """The numeric limits the upstream keeps.

    An integer's exclusive bound becomes the inclusive one (``exclusiveMinimum:
    0`` → ``minimum: 1``), so nothing is lost; other exclusive bounds are hinted.
    """
    limits: SchemaNode = {}
    for key in COUNT_LIMITS:
        if _is_number(node.get(key)) and float(node[key]).is_integer():
            limits[key] = int(node[key])
    if type_name in (None, "number", "integer"):
        for key in NUMBER_LIMITS:
            if _is_number(node.get(key)):
                limits[key] = node[key]
    if "exclusiveMinimum" in _integer_bounds(node, type_name):
        limits.setdefault("minimum", math.floor(node["exclusiveMinimum"]) + 1)
    if "exclusiveMaximum" in _integer_bounds(node, type_name):
        limits.setdefault("maximum", math.ceil(node["exclusiveMaximum"]) - 1)
    return limits


def _integer_bounds(node: Mapping[str, Any], type_name: str | None) -> set[str]:
    """The exclusive bounds of an integer that convert to inclusive ones."""
    if type_name != "integer":
        return set()
    keys = ("exclusiveMinimum", "exclusiveMaximum")
    return {key for key in keys if _is_number(node.get(key))}


def _children(
    node: Mapping[str, Any], refs: _Refs, stack: tuple[str, ...]
) -> SchemaNode:
    """Cleaned ``properties`` and ``items``; boolean sub-schemas are dropped."""
    out: SchemaNode = {}
    properties = node.get("properties")
    if isinstance(properties, Mapping):
        out["properties"] = {
            name: _clean_node(value, refs, stack)
            for name, value in properties.items()
            if isinstance(value, Mapping)
        }
    items = node.get("items")
    if not isinstance(items, Mapping):
        tuple_items = _list(node.get("prefixItems")) or _list(items)
        items = next((i for i in tuple_items if isinstance(i, Mapping)), None)
    if isinstance(items, Mapping):
        out["items"] = _clean_node(items, refs, stack)
    if isinstance(node.get("required"), list):
        out["required"] = [n for n in node["required"] if isinstance(n, str)]
    return out


def _merge_best_branch(
    out: SchemaNode,
    branches: Sequence[Any],
    refs: _Refs,
    stack: tuple[str, ...],
    nullable: bool,
) -> tuple[SchemaNode, bool]:
    """Collapse ``anyOf``/``oneOf``: the richest non-null branch joins the node.

    Why: the upstream has no unions. Object beats array beats scalar (the first
    wins a tie) so nested fields survive (reference §11.3 item 35); a ``null``
    branch makes the node nullable; several types add an ``Accepts:`` hint.
    """
    schemas = [b for b in branches if isinstance(b, Mapping)]
    nulls = [b for b in schemas if _is_null_branch(b)]
    cleaned = [_clean_node(b, refs, stack) for b in schemas if b not in nulls]
    options = [b for b in cleaned if "type" in b]
    nullable = nullable or bool(nulls)
    if not options:
        return out, nullable
    best = max(options, key=lambda b: BRANCH_SCORE.get(b["type"], 1))
    nullable = nullable or best.get("nullable") is True
    merged = _merge(out, {k: v for k, v in best.items() if k != "nullable"})
    names = list(dict.fromkeys(b["type"] for b in options))
    if len(names) > 1 and "type" not in out:
        merged = _with_hints(merged, [f"Accepts: {' | '.join(names)}"])
    return merged, nullable


def _is_null_branch(branch: Mapping[str, Any]) -> bool:
    type_name, _, nullable = _type_of(branch.get("type"))
    return type_name is None and nullable


def _finish(out: SchemaNode, hints: list[str], nullable: bool) -> SchemaNode:
    """Infer a missing type, add the defaults the upstream needs, order keys."""
    if "type" not in out:
        inferred = _inferred_type(out)
        if inferred is None and nullable:
            inferred = "string"
        if inferred is not None:
            out["type"] = inferred
    if out.get("type") == "object":
        out.setdefault("properties", {})
    if out.get("type") == "array":
        out.setdefault("items", {"type": "string"})
    properties = _mapping(out.get("properties"))
    required = [n for n in dict.fromkeys(_list(out.pop("required", None)))]
    required = [n for n in required if n in properties]
    if required:
        out["required"] = required
    if nullable:
        out["nullable"] = True
    out = _with_hints(out, hints)
    head: SchemaNode = {k: out[k] for k in KEPT if k in out}
    return {**head, **{k: v for k, v in out.items() if k not in head}}


def _inferred_type(out: Mapping[str, Any]) -> str | None:
    if "properties" in out:
        return "object"
    if "items" in out:
        return "array"
    return None


def _with_hints(node: Mapping[str, Any], hints: Sequence[str]) -> SchemaNode:
    out = dict(node)
    if hints:
        description = out.get("description")
        base = [description] if isinstance(description, str) and description else []
        out["description"] = " ".join([*base, *hints])
    return out


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else []
