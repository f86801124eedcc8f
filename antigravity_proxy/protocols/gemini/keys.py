"""Proto3 JSON field names: the Gemini API accepts ``snake_case`` and ``camelCase``.

Google's JSON parser takes a message field under either name
(``function_declarations`` or ``functionDeclarations``), and the google-genai SDK
does send some fields in snake case (``parameters_json_schema``). The translators
read camel case only, so the client body is normalised first.

Only message field names are renamed: the values under ``OPAQUE`` keys are user
data (function arguments, JSON schemas whose property names are the user's, label
maps), and are kept exactly as sent.
"""

from __future__ import annotations

from typing import Any, Final

OPAQUE: Final = frozenset(
    {
        "args",
        "response",
        "parametersJsonSchema",
        "responseJsonSchema",
        "properties",
        "labels",
        "metadata",
        "example",
        "default",
    }
)


def camel_keys(value: Any) -> Any:
    """A copy of ``value`` with snake_case message field names in camel case."""
    if isinstance(value, list):
        return [camel_keys(item) for item in value]
    if not isinstance(value, dict):
        return value
    out: dict[str, Any] = {}
    for key, item in value.items():
        name = to_camel(key) if isinstance(key, str) else key
        out[name] = item if name in OPAQUE else camel_keys(item)
    return out


def to_camel(name: str) -> str:
    head, *rest = name.split("_")
    if not rest:
        return name
    return head + "".join(part[:1].upper() + part[1:] for part in rest)
