"""Gemini ``generateContent`` request → the inner request the upstream accepts.

A Gemini client already speaks the upstream's dialect, so the body passes through
nearly verbatim (protocol-translation.md §8.2); this module validates the parts a
gateway must understand and fixes what the upstream would reject: unsigned
replayed function calls, JSON-Schema tool parameters, ``thinkingLevel`` (the
upstream takes a budget) and a ``systemInstruction`` without a role. It adds no
identity or global prompt. The v1internal envelope is added elsewhere.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, NoReturn, TypeGuard

from antigravity_proxy.errors import InvalidRequest
from antigravity_proxy.models import max_output_tokens, thinking_budget_cap
from antigravity_proxy.protocols.schema import clean_schema

METHODS: Final = frozenset({"generateContent", "streamGenerateContent", "countTokens"})
SKIP_SIGNATURE: Final = "skip_thought_signature_validator"
SEARCH_TOOL_KEYS: Final = frozenset({"googleSearch", "googleSearchRetrieval"})
SEARCH_DECLARATIONS: Final = frozenset({"web_search", "google_search"})
DECLARATION_KEYS: Final = ("functionDeclarations", "function_declarations")
THINKING_HEADROOM: Final = 8192
LEVEL_BUDGET: Final[Mapping[str, Callable[[int], int]]] = {
    "NONE": lambda cap: 0,
    "MINIMAL": lambda cap: min(cap, 1024),
    "LOW": lambda cap: min(cap, max(cap // 4, 4096)),
    "MEDIUM": lambda cap: min(cap, max(cap // 2, 8192)),
    "HIGH": lambda cap: cap,
    "XHIGH": lambda cap: cap,
}


@dataclass(frozen=True, slots=True)
class GeminiContext:
    """What a Gemini request translation needs beyond the body.

    :param upstream_model: the resolved upstream model id (``models.resolve_model``).
    :param signatures: functionCall id (or name) → thoughtSignature remembered
        from earlier responses of this conversation; may be empty.
    """

    upstream_model: str
    signatures: Mapping[str, str] = field(default_factory=dict)


def parse_model_method(segment: str) -> tuple[str, str]:
    """Split ``models/{model}:{method}`` into model and method.

    Why: model ids contain dots and may contain colons, so the split is at the
    last ``:`` (reference §8.1); no colon means ``generateContent``.
    """
    model, colon, method = segment.rpartition(":")
    if not colon:
        model, method = segment, "generateContent"
    model = model.removeprefix("models/")
    if not model:
        raise InvalidRequest("A model name is required.", param="model")
    if method not in METHODS:
        raise InvalidRequest(f"Unsupported method: {method[:64]}", param="method")
    return model, method


def request_to_upstream(body: Any, ctx: GeminiContext) -> dict[str, Any]:
    """The inner upstream request for a ``generateContent`` body.

    Kept as sent: every client key (``contents``, ``systemInstruction``,
    ``toolConfig``, ``safetySettings``, ``cachedContent``, ``responseMimeType``,
    ``responseJsonSchema``, a ``googleSearch`` tool, ...). Dropped: a root
    ``model`` (it is in the path); ``functionDeclarations`` named
    ``web_search``/``google_search`` when a ``googleSearch`` tool is present,
    then ``googleSearch``/``googleSearchRetrieval`` when other declarations
    remain (see ``_tools``); tools left empty by that. Changed: see
    ``_content``, ``_declaration``, ``_generation_config``;
    ``systemInstruction`` gets ``role: "user"``.
    """
    _validate_contents(body)
    request = copy.deepcopy({k: v for k, v in body.items() if k != "model"})
    claude = "claude" in ctx.upstream_model
    request["contents"] = [_content(c, ctx, claude) for c in request["contents"]]
    if "tools" in request:
        request["tools"] = _tools(request["tools"])
        if not request["tools"]:
            del request["tools"]
    if "generationConfig" in request:
        config = _generation_config(request["generationConfig"], ctx.upstream_model)
        request["generationConfig"] = config
    if "systemInstruction" in request:
        request["systemInstruction"] = _system(request["systemInstruction"])
    return request


def count_tokens_to_upstream(body: Any, ctx: GeminiContext) -> dict[str, Any]:
    """The inner upstream request for ``countTokens``.

    Accepts both official forms, ``{"contents": [...]}`` and
    ``{"generateContentRequest": {...}}``. The upstream counts ``model`` +
    ``contents`` only (as Gemini CLI sends it), so a ``systemInstruction`` is
    counted as a leading user turn; ``tools``, ``generationConfig`` and
    ``safetySettings`` are dropped.
    """
    if not isinstance(body, Mapping):
        raise InvalidRequest("The request body must be a JSON object.")
    nested = body.get("generateContentRequest")
    if nested is None:
        request = request_to_upstream({"contents": body.get("contents")}, ctx)
    elif isinstance(nested, Mapping):
        request = _nested_request(nested, ctx)
    else:
        _invalid("generateContentRequest", "must be a GenerateContentRequest object")
    contents = request["contents"]
    system = request.get("systemInstruction")
    if isinstance(system, Mapping) and isinstance(system.get("parts"), list):
        contents = [{"role": "user", "parts": system["parts"]}, *contents]
    return {"model": f"models/{ctx.upstream_model}", "contents": contents}


def _nested_request(nested: Mapping[str, Any], ctx: GeminiContext) -> dict[str, Any]:
    try:
        return request_to_upstream(nested, ctx)
    except InvalidRequest as exc:
        # a Mapping body always fails on a named field
        field = exc.param or ""
        param = f"generateContentRequest.{field}"
        raise InvalidRequest(exc.message.replace(field, param, 1), param=param) from exc


def _validate_contents(body: Any) -> None:
    """``contents`` must be a non-empty list of objects with non-empty ``parts``.

    Messages name the field: a Gemini error body has no ``param``.
    """
    if not isinstance(body, Mapping):
        raise InvalidRequest("The request body must be a JSON object.")
    contents = body.get("contents")
    if not isinstance(contents, list) or not contents:
        _invalid("contents", "must be a non-empty list of Content objects")
    for i, content in enumerate(contents):
        if not isinstance(content, Mapping):
            _invalid(f"contents[{i}]", "must be a Content object")
        parts = content.get("parts")
        if not isinstance(parts, list) or not parts:
            _invalid(f"contents[{i}].parts", "must be a non-empty list of Part objects")
        for j, part in enumerate(parts):
            if not isinstance(part, Mapping):
                _invalid(f"contents[{i}].parts[{j}]", "must be a Part object")


def _invalid(param: str, problem: str) -> NoReturn:
    raise InvalidRequest(f"{param} {problem}.", param=param)


def _content(
    content: dict[str, Any], ctx: GeminiContext, claude: bool
) -> dict[str, Any]:
    """Sign replayed function calls; give Claude-bound calls and results ids.

    Why: thinking models reject a replayed ``functionCall`` part without a
    ``thoughtSignature`` (400). A snake-case ``thought_signature`` becomes
    ``thoughtSignature`` (sending both names for one proto field is ambiguous);
    else the signature remembered for the call id is used; else the sentinel
    ``skip_thought_signature_validator`` that Gemini CLI itself sends. Claude
    upstreams pair tool results by id, so calls and responses without one get
    ``call_{name}_{n}`` (n counts per name within the content, reference §8.2).
    """
    counters: dict[tuple[str, str], int] = {}
    for part in content["parts"]:
        call = part.get("functionCall")
        if isinstance(call, dict):
            _sign(part, call, ctx)
        for kind in ("functionCall", "functionResponse"):
            target = part.get(kind)
            if claude and isinstance(target, dict) and not target.get("id"):
                name = str(target.get("name", ""))
                n = counters.get((kind, name), 0)
                counters[(kind, name)] = n + 1
                target["id"] = f"call_{name}_{n}"
    return content


def _sign(part: dict[str, Any], call: Mapping[str, Any], ctx: GeminiContext) -> None:
    snake = part.pop("thought_signature", None)
    if part.get("thoughtSignature"):
        return
    key = call.get("id") or call.get("name")
    remembered = ctx.signatures.get(key) if isinstance(key, str) else None
    part["thoughtSignature"] = snake or remembered or SKIP_SIGNATURE


def _tools(tools: Any) -> list[Any]:
    """Clean every declaration; one kind of search, never mixed with functions.

    Why: ``v1internal`` rejects ``googleSearch`` next to function declarations
    (reference §3.10), so, as the reference does, search-named declarations give
    way to a ``googleSearch`` tool, and ``googleSearch`` gives way to any other
    declaration.
    """
    if not isinstance(tools, list):
        _invalid("tools", "must be a list of Tool objects")
    searching = any(
        isinstance(tool, Mapping) and SEARCH_TOOL_KEYS.intersection(tool)
        for tool in tools
    )
    out: list[Any] = []
    for i, tool in enumerate(tools):
        if not isinstance(tool, dict):
            _invalid(f"tools[{i}]", "must be a Tool object")
        for key in DECLARATION_KEYS:
            if key in tool:
                tool[key] = _declarations(tool[key], searching, f"tools[{i}].{key}")
                if not tool[key]:
                    del tool[key]
        if tool:
            out.append(tool)
    declares = any(key in tool for tool in out for key in DECLARATION_KEYS)
    return _without_search(out) if searching and declares else out


def _without_search(tools: list[dict[str, Any]]) -> list[dict[str, Any]]:
    kept = [{k: v for k, v in t.items() if k not in SEARCH_TOOL_KEYS} for t in tools]
    return [tool for tool in kept if tool]


def _declarations(declarations: Any, searching: bool, param: str) -> list[Any]:
    if not isinstance(declarations, list):
        _invalid(param, "must be a list of FunctionDeclaration objects")
    out = []
    for j, declaration in enumerate(declarations):
        if not isinstance(declaration, dict):
            _invalid(f"{param}[{j}]", "must be a FunctionDeclaration object")
        if searching and declaration.get("name") in SEARCH_DECLARATIONS:
            continue
        out.append(_declaration(declaration))
    return out


def _declaration(declaration: Mapping[str, Any]) -> dict[str, Any]:
    """``parametersJsonSchema`` → ``parameters``, cleaned by ``clean_schema``.

    Why: the upstream routes Claude models through ``parameters`` only, and
    validates it against Google's ``Schema``; a root without a type becomes an
    object. Parameters that are not a schema object are dropped.
    """
    schema = declaration.get("parametersJsonSchema", declaration.get("parameters"))
    cleaned = clean_schema(schema)
    out: dict[str, Any] = {}
    for key, value in declaration.items():
        if key not in ("parametersJsonSchema", "parameters"):
            out[key] = value
        elif "parameters" not in out and isinstance(cleaned, dict):
            out["parameters"] = _object_root(cleaned)
    return out


def _object_root(schema: dict[str, Any]) -> dict[str, Any]:
    if "type" not in schema:
        return {"type": "object", "properties": {}, **schema}
    return schema


def _generation_config(config: Any, model: str) -> dict[str, Any]:
    """``thinkingLevel`` → ``thinkingBudget``; room for the answer after thinking.

    Why: the upstream takes a budget, capped per model (reference §2 spec
    defaults). When ``maxOutputTokens`` ≤ the budget the model would spend all
    of it thinking, so it is raised to budget + 8192; it is always capped at the
    model's output ceiling. ``thinkingLevel`` is dropped once converted.
    """
    if not isinstance(config, dict):
        _invalid("generationConfig", "must be a GenerationConfig object")
    thinking = config.get("thinkingConfig")
    budget = _thinking_budget(thinking, model) if thinking is not None else None
    limit = config.get("maxOutputTokens")
    if _is_int(limit):
        if budget is not None and budget > 0 and limit <= budget:
            limit = budget + THINKING_HEADROOM
        config["maxOutputTokens"] = min(limit, max_output_tokens(model))
    return config


def _thinking_budget(thinking: Any, model: str) -> int | None:
    param = "generationConfig.thinkingConfig"
    if not isinstance(thinking, dict):
        _invalid(param, "must be a ThinkingConfig object")
    cap = thinking_budget_cap(model)
    level = thinking.pop("thinkingLevel", None)
    budget = thinking.get("thinkingBudget")
    if _is_int(budget):
        if budget > cap:
            thinking["thinkingBudget"] = budget = cap
        return int(budget)
    if level is None or str(level).upper() == "THINKING_LEVEL_UNSPECIFIED":
        return None
    convert = LEVEL_BUDGET.get(str(level).upper())
    if convert is None:
        _invalid(f"{param}.thinkingLevel", f"has an unknown value {level!r}")
    thinking["thinkingBudget"] = convert(cap)
    return int(thinking["thinkingBudget"])


def _system(system: Any) -> Any:
    """A ``systemInstruction`` with a role (the upstream requires one)."""
    if isinstance(system, str):
        return {"role": "user", "parts": [{"text": system}]}
    if isinstance(system, dict) and "role" not in system:
        return {"role": "user", **system}
    return system


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)
