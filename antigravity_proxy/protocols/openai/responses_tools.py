"""Responses ``tools`` → Gemini function declarations, and upstream names back.

Gemini knows flat function declarations and Google Search grounding only, so:
``namespace`` tools are flattened to ``{namespace}__{name}``; ``custom``
(freeform) tools such as Codex's ``apply_patch`` become a function with one string
parameter ``input``; ``web_search*`` becomes ``{"googleSearch": {}}`` when no
function is declared (v1internal refuses the mix, reference §3.10), else it is
dropped. Names the upstream would reject (charset, 64 characters) get a sanitised
name with a hash suffix. ``ToolSet.ref`` maps every upstream name back to the
client's (namespace, name, custom?) so output items carry the client's names.

Dropped: ``strict``, ``defer_loading``, ``allowed_callers``, ``output_schema``,
``async``, web_search options (``filters``, ``user_location``,
``external_web_access``, ``search_context_size``), ``parallel_tool_calls``,
and the tool types ``tool_search``, ``file_search``, ``computer*``, ``mcp``,
``code_interpreter``, ``image_generation``, ``local_shell``, ``shell``,
``apply_patch`` (built-in) and any unknown type.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from antigravity_proxy.errors import InvalidRequest
from antigravity_proxy.protocols.openai.responses_types import JSONObject
from antigravity_proxy.protocols.schema import clean_schema

log = logging.getLogger(__name__)

NAMESPACE_SEPARATOR: Final = "__"
MAX_NAME_LENGTH: Final = 64
VALID_NAME: Final = re.compile(r"^[A-Za-z_][A-Za-z0-9_.:-]{0,63}$")
WEB_SEARCH_TYPES: Final = frozenset(
    {
        "web_search",
        "web_search_preview",
        "web_search_preview_2025_03_11",
        "web_search_2025_08_26",
    }
)
CALLABLE_TYPES: Final = frozenset({"function", "custom"})
CUSTOM_INPUT_SCHEMA: Final[Mapping[str, Any]] = {
    "type": "object",
    "properties": {
        "input": {
            "type": "string",
            "description": "The raw freeform input of the tool, verbatim.",
        }
    },
    "required": ["input"],
}
TOOL_CHOICE_MODE: Final[Mapping[str, str]] = {
    "none": "NONE",
    "auto": "AUTO",
    "required": "ANY",
}


@dataclass(frozen=True, slots=True)
class ToolRef:
    """The client's view of one upstream function name."""

    name: str
    namespace: str | None = None
    custom: bool = False


@dataclass(frozen=True, slots=True)
class ToolSet:
    """Declarations to send upstream and the way back to client names."""

    declarations: tuple[JSONObject, ...] = ()
    refs: Mapping[str, ToolRef] = field(default_factory=dict)
    web_search: bool = False

    def ref(self, upstream_name: str) -> ToolRef:
        """The client's tool behind ``upstream_name`` (unknown names pass through)."""
        return self.refs.get(upstream_name, ToolRef(upstream_name))

    def gemini_tools(self) -> list[JSONObject]:
        """The upstream ``tools`` list (empty when nothing is declared)."""
        if self.declarations:
            if self.web_search:
                log.info("web_search dropped: v1internal cannot mix it with functions")
            return [{"functionDeclarations": [dict(d) for d in self.declarations]}]
        if self.web_search:
            return [{"googleSearch": {}}]
        return []


def upstream_name(name: str, namespace: str | None = None) -> str:
    """The upstream function name of a client tool (flattened, then sanitised).

    Why a hash suffix: two long names must not collide after truncation, and the
    same client name must give the same upstream name on every turn.
    """
    flat = f"{namespace}{NAMESPACE_SEPARATOR}{name}" if namespace else name
    if VALID_NAME.match(flat):
        return flat
    cleaned = re.sub(r"[^A-Za-z0-9_.:-]", "_", flat)
    if not re.match(r"[A-Za-z_]", cleaned):
        cleaned = "_" + cleaned
    digest = hashlib.sha1(flat.encode("utf-8")).hexdigest()[:8]
    return f"{cleaned[: MAX_NAME_LENGTH - 9]}_{digest}"


def tool_set(sources: Sequence[tuple[str, object]]) -> ToolSet:
    """Collect tools from (param path, tools list) pairs into one ToolSet.

    The sources are the body's ``tools`` and every ``additional_tools`` input item.
    Duplicate upstream names keep the first declaration.
    """
    collector = _Collector()
    for param, tools in sources:
        if not isinstance(tools, list):
            raise InvalidRequest(f"'{param}' must be an array.", param=param)
        for index, tool in enumerate(tools):
            collector.add(tool, f"{param}[{index}]", None)
    return ToolSet(tuple(collector.declarations), collector.refs, collector.web_search)


class _Collector:
    def __init__(self) -> None:
        self.declarations: list[JSONObject] = []
        self.refs: dict[str, ToolRef] = {}
        self.web_search = False

    def add(self, tool: object, param: str, namespace: str | None) -> None:
        if not isinstance(tool, Mapping):
            raise InvalidRequest(f"'{param}' must be an object.", param=param)
        kind = tool.get("type")
        if kind in CALLABLE_TYPES:
            self._callable(tool, param, namespace)
        elif kind == "namespace" and namespace is None:
            self._namespace(tool, param)
        elif kind in WEB_SEARCH_TYPES and namespace is None:
            self.web_search = True
        else:
            log.info("tool %s of type %r skipped", param, kind)

    def _namespace(self, tool: Mapping[str, Any], param: str) -> None:
        name = _required_name(tool, param)
        children = tool.get("tools")
        if not isinstance(children, list):
            raise InvalidRequest(
                f"'{param}.tools' must be an array.", param=f"{param}.tools"
            )
        for index, child in enumerate(children):
            self.add(child, f"{param}.tools[{index}]", name)

    def _callable(
        self, tool: Mapping[str, Any], param: str, namespace: str | None
    ) -> None:
        name = _required_name(tool, param)
        flat = upstream_name(name, namespace)
        if flat in self.refs:
            log.info("tool %s skipped: duplicate name %r", param, flat)
            return
        custom = tool.get("type") == "custom"
        self.refs[flat] = ToolRef(name, namespace, custom)
        declaration = (
            _custom_declaration(tool) if custom else _function_declaration(tool)
        )
        self.declarations.append({"name": flat, **declaration})


def _required_name(tool: Mapping[str, Any], param: str) -> str:
    name = tool.get("name")
    if not isinstance(name, str) or not name:
        raise InvalidRequest(
            f"Missing required parameter: '{param}.name'.", param=f"{param}.name"
        )
    return name


def _function_declaration(tool: Mapping[str, Any]) -> JSONObject:
    out: JSONObject = {}
    description = tool.get("description")
    if isinstance(description, str) and description:
        out["description"] = description
    parameters = tool.get("parameters")
    if isinstance(parameters, Mapping) and parameters:
        out["parameters"] = clean_schema(parameters)
    return out


def _custom_declaration(tool: Mapping[str, Any]) -> JSONObject:
    """A freeform tool as a function taking the raw text in ``input``.

    Why the grammar goes into the description: the upstream cannot constrain
    decoding to a lark/regex grammar, so the model has to read it instead.
    """
    lines = [tool["description"]] if isinstance(tool.get("description"), str) else []
    lines.append("Pass the raw freeform text in the `input` string argument.")
    fmt = tool.get("format")
    if isinstance(fmt, Mapping) and fmt.get("type") == "grammar":
        syntax, definition = fmt.get("syntax", ""), fmt.get("definition", "")
        lines.append(f"The text must match this {syntax} grammar:\n{definition}")
    return {
        "description": "\n\n".join(lines),
        "parameters": clean_schema(CUSTOM_INPUT_SCHEMA),
    }


def tool_config(choice: object, tools: ToolSet) -> JSONObject | None:
    """Responses ``tool_choice`` → Gemini ``toolConfig`` (None: send nothing).

    Only sent when functions are declared. A named function or custom tool
    becomes mode ANY restricted to it; ``allowed_tools`` keeps its mode and, for
    ``required``, its names; hosted-tool choices (``web_search_preview``...) are
    AUTO. Unknown strings are rejected as the official API does.
    """
    if choice is None:
        return None
    if isinstance(choice, str) and choice not in TOOL_CHOICE_MODE:
        raise InvalidRequest(
            f"Invalid value for 'tool_choice': {choice!r}.", param="tool_choice"
        )
    if not isinstance(choice, str | Mapping):
        raise InvalidRequest(
            "'tool_choice' must be a string or an object.", param="tool_choice"
        )
    if not tools.declarations:
        return None
    if isinstance(choice, str):
        return _function_calling(TOOL_CHOICE_MODE[choice], [])
    if choice.get("type") in CALLABLE_TYPES:
        return _function_calling("ANY", [_choice_name(choice, tools)])
    if choice.get("type") == "allowed_tools":
        return _allowed_tools(choice, tools)
    return _function_calling("AUTO", [])


def _allowed_tools(choice: Mapping[str, Any], tools: ToolSet) -> JSONObject:
    mode = TOOL_CHOICE_MODE.get(str(choice.get("mode", "auto")), "AUTO")
    listed = choice.get("tools")
    entries = listed if isinstance(listed, list) else []
    names = [
        upstream_name(entry["name"], entry.get("namespace"))
        for entry in entries
        if isinstance(entry, Mapping) and isinstance(entry.get("name"), str)
    ]
    known = [name for name in names if name in tools.refs]
    return _function_calling(mode, known if mode == "ANY" else [])


def _choice_name(choice: Mapping[str, Any], tools: ToolSet) -> str:
    name = choice.get("name")
    flat = upstream_name(name, choice.get("namespace")) if isinstance(name, str) else ""
    if flat not in tools.refs:
        raise InvalidRequest(
            f"Tool choice '{name}' not found in 'tools' parameter.", param="tool_choice"
        )
    return flat


def _function_calling(mode: str, names: list[str]) -> JSONObject:
    config: JSONObject = {"mode": mode}
    if names:
        config["allowedFunctionNames"] = names
    return {"functionCallingConfig": config}


def custom_input(args: Mapping[str, Any]) -> str:
    """The freeform text of a bridged custom tool call's ``args``.

    Why the fallback: a model sometimes invents another argument name; the JSON
    text then reaches the tool instead of silently becoming an empty input.
    """
    value = args.get("input")
    if isinstance(value, str):
        return value
    return function_arguments(args)


def function_arguments(args: Mapping[str, Any]) -> str:
    """``functionCall.args`` as the compact JSON text of ``arguments``."""
    return json.dumps(args, ensure_ascii=False, separators=(",", ":"))
