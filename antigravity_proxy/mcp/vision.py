"""The vision tools of the built-in MCP server (reference §5.4, z.ai's Vision MCP).

``tool_specs`` lists the eight tools with their input schemas; ``call_tool``
runs one: it turns the image or video sources into content parts (``sources``),
asks ``<zai.vision_base_url>/chat/completions`` (model ``glm-4.6v``) and
returns the answer text as an MCP tool result. Per MCP (2025-11-25, "Tools /
Error Handling"), an unknown tool or malformed params are protocol errors
(``RpcError`` -32602), while bad arguments, refused files and z.ai failures are
tool results with ``isError: true``, which the model can read and correct.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Protocol

from antigravity_proxy.config import Config
from antigravity_proxy.errors import GatewayError
from antigravity_proxy.mcp.sources import MediaKind, SourceError, media_part
from antigravity_proxy.protocols.mcp.errors import INVALID_PARAMS, RpcError

VISION_MODEL: Final = "glm-4.6v"
SAMPLING: Final = {
    "thinking": {"type": "enabled"},
    "stream": False,
    "temperature": 0.8,
    "top_p": 0.6,
    "max_tokens": 32768,
}
ARTIFACT_PROMPTS: Final[Mapping[str, str]] = {
    "code": "You are a frontend engineer. Generate clean, accessible, responsive "
    "frontend code from the UI screenshot.",
    "prompt": "You generate precise prompts to recreate UI screenshots.",
    "spec": "You are a design systems architect. Produce a detailed UI "
    "specification from the screenshot.",
    "description": "You describe UI screenshots clearly and completely in "
    "natural language.",
}
SOURCE_HELP: Final = (
    "An https URL, a data URL, or an absolute path to a file in one of the "
    "gateway's allowed directories"
)


class ToolFailure(ValueError):
    """A bad argument or answer; reported to the model as a tool error."""


@dataclass(frozen=True, slots=True)
class VisionTool:
    """One tool: its sources, the system prompt and an optional hint argument.

    :param sources: the argument names holding a source, in message order.
    :param hint: ``(argument, label)`` appended to the prompt as ``label: value``.
    """

    name: str
    description: str
    system_prompt: str
    sources: tuple[str, ...] = ("image_source",)
    kind: MediaKind = "image"
    hint: tuple[str, str] | None = None


TOOLS: Final[tuple[VisionTool, ...]] = (
    VisionTool(
        "ui_to_artifact",
        "Convert UI screenshots into artifacts (code/prompt/spec/description).",
        "",
    ),
    VisionTool(
        "extract_text_from_screenshot",
        "Extract text/code from screenshots (OCR-like).",
        "Extract text from the screenshot accurately. Preserve code formatting. "
        "If unsure, say what is uncertain.",
        hint=("language_hint", "Language hint"),
    ),
    VisionTool(
        "diagnose_error_screenshot",
        "Diagnose error screenshots (stack traces, logs, runtime errors).",
        "Diagnose the error shown in the screenshot. Identify root cause, propose "
        "fixes and verification steps.",
        hint=("context", "Context"),
    ),
    VisionTool(
        "understand_technical_diagram",
        "Analyze architecture/flow/UML/ER diagrams.",
        "Explain the technical diagram. Describe components, relationships, data "
        "flows, and key assumptions.",
        hint=("diagram_type", "Diagram type"),
    ),
    VisionTool(
        "analyze_data_visualization",
        "Analyze charts/dashboards to extract insights and trends.",
        "Analyze the chart/dashboard and extract insights, trends, anomalies, and "
        "recommendations.",
        hint=("analysis_focus", "Focus"),
    ),
    VisionTool(
        "ui_diff_check",
        "Compare two UI screenshots and report visual differences.",
        "Compare the two UI screenshots and report differences grouped by "
        "severity. Include actionable fix suggestions.",
        sources=("expected_image_source", "actual_image_source"),
    ),
    VisionTool(
        "analyze_image",
        "General-purpose image analysis.",
        "Analyze the image. Be precise and include relevant details.",
    ),
    VisionTool(
        "analyze_video",
        "Analyze video content (mp4, mov, m4v; up to 8 MB).",
        "Analyze the video content according to the user's request.",
        sources=("video_source",),
        kind="video",
    ),
)
TOOLS_BY_NAME: Final = {tool.name: tool for tool in TOOLS}


def tool_specs() -> list[dict[str, Any]]:
    """The ``tools/list`` entries: name, description and JSON Schema input."""
    return [_spec(tool) for tool in TOOLS]


def _spec(tool: VisionTool) -> dict[str, Any]:
    properties: dict[str, Any] = {
        name: {"type": "string", "description": SOURCE_HELP} for name in tool.sources
    }
    required = [*tool.sources]
    if tool.name == "ui_to_artifact":
        properties["output_type"] = {"type": "string", "enum": [*ARTIFACT_PROMPTS]}
        required.append("output_type")
    properties["prompt"] = {"type": "string", "description": "What to do"}
    required.append("prompt")
    if tool.hint is not None:
        properties[tool.hint[0]] = {"type": "string"}
    schema = {"type": "object", "properties": properties, "required": required}
    return {"name": tool.name, "description": tool.description, "inputSchema": schema}


class VisionChat(Protocol):
    """What the tools need from z.ai (``ZaiClient``; a fake in tests)."""

    def vision_chat(self, body: Mapping[str, Any]) -> dict[str, Any]: ...


def call_tool(
    zai: VisionChat, config: Config, params: Mapping[str, Any]
) -> dict[str, Any]:
    """Run ``tools/call``; a ``CallToolResult`` (``isError`` for tool failures)."""
    name = params.get("name")
    arguments = params.get("arguments")
    arguments = {} if arguments is None else arguments
    if not isinstance(name, str) or not isinstance(arguments, dict):
        raise RpcError(INVALID_PARAMS, "tools/call needs a name and object arguments")
    tool = TOOLS_BY_NAME.get(name)
    if tool is None:
        raise RpcError(INVALID_PARAMS, f"Unknown tool: {name}")
    try:
        body = request_body(tool, arguments, config.zai.mcp.allowed_dirs)
        text = answer_text(zai.vision_chat(body))
    except (ToolFailure, SourceError) as exc:
        return tool_result(f"Error: {exc}", is_error=True)
    except GatewayError as exc:
        return tool_result(f"Error: {exc.message}", is_error=True)
    return tool_result(text, is_error=False)


def request_body(
    tool: VisionTool, arguments: Mapping[str, Any], allowed_dirs: tuple[str, ...]
) -> dict[str, Any]:
    """The chat-completions body for one call (reads allowed local files)."""
    prompt = _text_argument(arguments, "prompt")
    if tool.hint is not None:
        value = arguments.get(tool.hint[0])
        if isinstance(value, str) and value.strip():
            prompt += f"\n\n{tool.hint[1]}: {value.strip()}"
    parts = [
        media_part(_text_argument(arguments, name), tool.kind, allowed_dirs)
        for name in tool.sources
    ]
    user = {"role": "user", "content": [*parts, {"type": "text", "text": prompt}]}
    system = {"role": "system", "content": _system_prompt(tool, arguments)}
    return {"model": VISION_MODEL, "messages": [system, user], **SAMPLING}


def _system_prompt(tool: VisionTool, arguments: Mapping[str, Any]) -> str:
    if tool.name != "ui_to_artifact":
        return tool.system_prompt
    output_type = _text_argument(arguments, "output_type")
    if output_type not in ARTIFACT_PROMPTS:
        choices = ", ".join(ARTIFACT_PROMPTS)
        raise ToolFailure(f"output_type must be one of {choices}")
    return ARTIFACT_PROMPTS[output_type]


def _text_argument(arguments: Mapping[str, Any], name: str) -> str:
    value = arguments.get(name)
    if not isinstance(value, str) or not value.strip():
        raise ToolFailure(f"missing {name} (a non-empty string)")
    return value


def answer_text(answer: Mapping[str, Any]) -> str:
    """``choices[0].message.content`` of a chat-completions answer."""
    choices = answer.get("choices")
    first = choices[0] if isinstance(choices, list) and choices else {}
    message = first.get("message") if isinstance(first, dict) else None
    content = message.get("content") if isinstance(message, dict) else None
    if not isinstance(content, str):
        raise ToolFailure("z.ai vision answer has no choices[0].message.content")
    return content


def tool_result(text: str, *, is_error: bool) -> dict[str, Any]:
    return {"content": [{"type": "text", "text": text}], "isError": is_error}
