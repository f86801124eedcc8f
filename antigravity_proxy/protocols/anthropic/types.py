"""Wire shapes of the Anthropic Messages translators, and their context.

Owns the TypedDicts for what the translators emit (the client-facing message,
content blocks, usage, upstream Gemini parts), the frozen ``MessagesContext``
carrying everything a translator must not invent (ids, the upstream model,
cached signatures, pre-fetched media), and the typed readers used at the JSON
boundary: every malformed value becomes an ``InvalidRequest`` naming its field
(``param``, e.g. ``messages[2].content[0].type``) in Anthropic's wording.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal, Required, TypedDict

from antigravity_proxy.errors import InvalidRequest

JsonObject = Mapping[str, Any]
Part = dict[str, Any]
Content = dict[str, Any]
# Deeper bodies are refused up front: translation, the schema cleaner and the
# signature decoder recurse, and Python's recursion limit must not turn a
# malformed body into a 500. Real requests (Claude Code's 2020-12 schemas
# included) stay far below it.
MAX_DEPTH: Final = 128


@dataclass(frozen=True, slots=True)
class MessagesContext:
    """Everything a Messages translation needs besides the body.

    :param message_id: the client-visible ``msg_...`` id.
    :param id_seed: seed of generated ids (``toolu_<seed>_<n>``,
        ``srvtoolu_<seed>_<n>``) when the upstream gives none.
    :param model: the model name the client asked for, echoed back.
    :param upstream_model: the resolved upstream model id; thinking signatures are
        only replayed to the model that issued them.
    :param signatures: tool_use id -> thoughtSignature from the handler's store,
        used when history carries no restorable signature for a call.
    :param media: http(s) URL -> (mime type, base64 data), pre-fetched by the
        handler for ``url`` image and document sources.
    :param stop_sequences: the request's ``stop_sequences``, so the stream can
        report which one ended the answer.
    :param parallel_tool_use: False when the client disabled parallel tool use;
        the stream then answers with the first ``tool_use`` only.
    """

    message_id: str
    id_seed: str
    model: str
    upstream_model: str = ""
    signatures: Mapping[str, str] = field(default_factory=dict)
    media: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    stop_sequences: tuple[str, ...] = ()
    parallel_tool_use: bool = True


class Usage(TypedDict, total=False):
    input_tokens: Required[int]
    output_tokens: Required[int]
    cache_creation_input_tokens: int
    cache_read_input_tokens: int
    server_tool_use: dict[str, int]


class TextBlock(TypedDict, total=False):
    type: Required[Literal["text"]]
    text: Required[str]
    citations: list[dict[str, Any]]


class ThinkingBlock(TypedDict):
    type: Literal["thinking"]
    thinking: str
    signature: str


class ToolUseBlock(TypedDict):
    type: Literal["tool_use", "server_tool_use"]
    id: str
    name: str
    input: dict[str, Any]


class WebSearchResult(TypedDict):
    type: Literal["web_search_result"]
    url: str
    title: str
    encrypted_content: str
    page_age: str | None


class WebSearchToolResultBlock(TypedDict):
    type: Literal["web_search_tool_result"]
    tool_use_id: str
    content: list[WebSearchResult]


ContentBlock = TextBlock | ThinkingBlock | ToolUseBlock | WebSearchToolResultBlock

StopReason = Literal[
    "end_turn", "max_tokens", "stop_sequence", "tool_use", "pause_turn", "refusal"
]


class Message(TypedDict):
    id: str
    type: Literal["message"]
    role: Literal["assistant"]
    model: str
    content: list[dict[str, Any]]
    stop_reason: StopReason | None
    stop_sequence: str | None
    usage: Usage


def check_depth(body: Any) -> None:
    """``InvalidRequest`` naming a value nested deeper than ``MAX_DEPTH``.

    Iterative, so any depth the JSON parser accepted is measured safely. The
    walk keeps no paths: Claude Code's bodies run to megabytes of history, and
    only a body that fails needs the path, which ``_too_deep_path`` then finds.
    """
    level: list[Any] = [body]
    for _ in range(MAX_DEPTH + 1):
        level = _containers_inside(level)
        if not level:
            return
    where = _too_deep_path(body)
    raise InvalidRequest(f"{where}: nested deeper than {MAX_DEPTH} levels", param=where)


def _containers_inside(level: list[Any]) -> list[Any]:
    """The dicts and lists directly inside the values of ``level`` (JSON gives
    dicts and lists), a level at a time: no call per value."""
    inside = [v for node in level if type(node) is list for v in node]
    inside += [v for node in level if type(node) is dict for v in node.values()]
    return [v for v in inside if type(v) is dict or type(v) is list]


def _too_deep_path(body: Any) -> str:
    """The path of the first value past ``MAX_DEPTH`` in a body known to have one."""
    stack: list[tuple[Any, str, int]] = [(body, "", 0)]
    while True:
        value, where, depth = stack.pop()
        if depth > MAX_DEPTH:
            return where
        dot = "." if where else ""
        items = value.items() if type(value) is dict else enumerate(value)
        for key, child in items:
            path = f"{where}{dot}{key}" if type(value) is dict else f"{where}[{key}]"
            if type(child) is dict or type(child) is list:
                stack.append((child, path, depth + 1))


class FieldError(InvalidRequest):
    """An ``InvalidRequest`` about one field: ``"{param}: {detail}"``.

    Why ``within``: a long history holds thousands of blocks, and spelling each
    one's path (``messages[2].content[0].text``) before reading it cost more
    than translating it. The block readers name a field relative to the value
    they read (``text``, ``source.media_type``); each enclosing loop prefixes its
    own step as the error passes, so only a request that fails pays for a path.
    """

    def __init__(self, param: str, detail: str) -> None:
        super().__init__(f"{param}: {detail}", param=param)
        self.detail = detail

    def within(self, prefix: str) -> FieldError:
        """The same error for the field as seen from ``prefix``'s parent."""
        return FieldError(f"{prefix}.{self.param}", self.detail)


def as_object(value: Any, param: str) -> JsonObject:
    """``value`` when it is a JSON object, else an error naming ``param``.

    Why ``dict`` rather than ``Mapping``: parsed JSON objects are dicts, and the
    ABC check costs a few hundred nanoseconds on every block of a long history.
    """
    if isinstance(value, dict):
        return value
    raise object_error(value, param)


def object_error(value: Any, param: str) -> FieldError:
    """The error for ``value`` at ``param`` where an object is required."""
    if value is None:
        return FieldError(param, "Field required")
    return FieldError(param, "Input should be an object")


def as_list(value: Any, param: str) -> list[Any]:
    if not isinstance(value, list):
        raise FieldError(param, "Input should be a valid list")
    return value


def as_str(value: Any, param: str) -> str:
    if isinstance(value, str):
        return value
    if value is None:
        raise FieldError(param, "Field required")
    raise FieldError(param, "Input should be a valid string")


def as_int(value: Any, param: str, minimum: int) -> int:
    """An integer ≥ ``minimum``; booleans are not integers here (JSON ``true``)."""
    if value is None:
        raise FieldError(param, "Field required")
    if isinstance(value, bool) or not isinstance(value, int):
        raise FieldError(param, "Input should be a valid integer")
    if value < minimum:
        raise FieldError(param, f"Input should be greater than or equal to {minimum}")
    return value


def as_number(value: Any, param: str, low: float, high: float) -> float | int:
    """A number within [``low``, ``high``] (Anthropic's documented range)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise FieldError(param, "Input should be a valid number")
    if not low <= value <= high:
        raise FieldError(param, f"Input should be between {low} and {high}")
    return value


def unknown_tag(value: Any, param: str, expected: tuple[str, ...]) -> FieldError:
    """The error for a ``type`` tag outside ``expected``, worded like Anthropic's."""
    if value is None:
        return FieldError(param, "Unable to extract tag using discriminator 'type'")
    tags = ", ".join(f"'{tag}'" for tag in expected)
    return FieldError(
        param,
        f"Input tag {value!r} found using 'type' does not match any of "
        f"the expected tags: {tags}",
    )


def not_one_of(value: Any, param: str, expected: tuple[str, ...]) -> FieldError:
    """The error for a value outside an enumeration (``role``, ``effort``)."""
    *head, last = [f"'{item}'" for item in expected]
    choices = f"{', '.join(head)} or {last}" if head else last
    return FieldError(param, f"Input should be {choices} (got {value!r})")
