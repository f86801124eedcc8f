"""What a Messages history needs before translation, found in one walk.

The pure translator must be handed two things it cannot find alone: the
thought signatures of replayed calls whose history carries none usable (the
shared store keeps them) and the images a block gives by ``url`` (the handler
downloads them). Both are found in one pass over the blocks: a long session's
history holds hundreds of messages, and a walk per need cost about a millisecond
each on the 684 KB agent request. Request paths
(``messages[3].content[0].source.url``) are spelled only for ``url`` blocks.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from antigravity_proxy.errors import InvalidRequest
from antigravity_proxy.media import ImageRef
from antigravity_proxy.protocols.anthropic.signature import decode_signature

MEDIA_BLOCKS: Final = frozenset({"image", "document"})


@dataclass(frozen=True, slots=True)
class HistoryNeeds:
    """Replayed ``tool_use`` ids without a usable signature, and ``url`` images.

    :param unsigned_tool_ids: a thinking block carrying our signature for a call
        (placement ``call``, same upstream model) signs the next ``tool_use`` of
        its assistant message; every other ``tool_use`` (blank, foreign or stale
        signatures) is listed, for the shared store.
    :param images: ``url`` image sources, in document order, each with its path.
    """

    unsigned_tool_ids: list[str] = field(default_factory=list)
    images: list[ImageRef] = field(default_factory=list)


def history_needs(messages: Any, upstream_model: str) -> HistoryNeeds:
    """Both needs of ``messages``; ``InvalidRequest`` for a ``url`` source the
    gateway cannot fetch (a document, or no ``url``), naming its field."""
    needs = HistoryNeeds()
    for i, message in enumerate(messages if isinstance(messages, list) else []):
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, list):
            assistant = message.get("role") == "assistant"
            _blocks_needs(content, i, assistant, upstream_model, needs)
    return needs


def _blocks_needs(
    content: list[Any], i: int, assistant: bool, model: str, needs: HistoryNeeds
) -> None:
    """The needs of message ``i``'s blocks (``assistant``: its calls count)."""
    signed = False
    for j, block in enumerate(content):
        if not isinstance(block, dict):
            continue
        kind = block.get("type")
        if kind == "tool_use":
            call_id = block.get("id")
            if assistant and not signed and isinstance(call_id, str):
                needs.unsigned_tool_ids.append(call_id)
            signed = False
        elif kind == "thinking":
            signed = assistant and _signs_call(block.get("signature"), model)
        elif kind == "tool_result":
            _nested_images(block.get("content"), i, j, needs.images)
        elif _has_url_source(block):
            needs.images.append(_url_source(block, f"messages[{i}].content[{j}]"))


def _signs_call(signature: Any, model: str) -> bool:
    found = decode_signature(signature)
    return found is not None and found.placement == "call" and found.model == model


def _nested_images(content: Any, i: int, j: int, images: list[ImageRef]) -> None:
    """The ``url`` images inside a ``tool_result``'s content blocks."""
    if not isinstance(content, list):
        return
    for k, item in enumerate(content):
        if isinstance(item, dict) and _has_url_source(item):
            images.append(_url_source(item, f"messages[{i}].content[{j}].content[{k}]"))


def _has_url_source(block: Mapping[str, Any]) -> bool:
    """An ``image`` or ``document`` block whose source is a ``url``.

    Why a test apart from ``_url_source``: history holds thousands of blocks,
    and only these few need their path spelled out.
    """
    kind, source = block.get("type"), block.get("source")
    return (
        isinstance(kind, str)
        and kind in MEDIA_BLOCKS
        and isinstance(source, Mapping)
        and source.get("type") == "url"
    )


def _url_source(block: Mapping[str, Any], param: str) -> ImageRef:
    """The ``ImageRef`` of a block ``_has_url_source`` found (``param`` is its path)."""
    if block.get("type") != "image":
        raise InvalidRequest(
            f"{param}.source: 'url' document sources are not supported by this "
            "gateway; send the file as a 'base64' source",
            param=f"{param}.source.type",
        )
    url = block["source"].get("url")
    if not isinstance(url, str) or not url:
        raise InvalidRequest(
            f"{param}.source.url: Field required", param=f"{param}.source.url"
        )
    return ImageRef(url, f"{param}.source.url")
