"""Rewriting ``proxy.api_keys`` in ``config.yaml`` while keeping everything else.

``antigravity-proxy keys add`` and ``keys revoke`` change one list in a file the
user edits by hand, so the rest of the file (comments, order, quoting) must come
through untouched. PyYAML loses comments on a round trip; instead the file is
*composed* (nodes carry their positions) and only the text of that one value is
replaced, or a new ``api_keys:`` entry is inserted under ``proxy:``. The result
is parsed again and must equal the intended data; a layout this cannot edit in
place (a flow-style ``proxy: {...}``) falls back to a plain dump of the data,
and the caller is told that comments were not kept.

The read, edit and atomic write happen under the config file's lock, the same
one ``load_config`` takes to save a generated key.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeGuard

import yaml

from antigravity_proxy.apikeys import ApiKey, check_api_keys
from antigravity_proxy.config import ConfigError, parse_api_keys
from antigravity_proxy.config_file import config_lock
from antigravity_proxy.fsutil import write_atomic

_INVALID: Any = object()
Change = Callable[[tuple[ApiKey, ...]], tuple[ApiKey, ...]]


@dataclass(frozen=True, slots=True)
class Edited:
    """What ``edit_api_keys`` wrote: the keys now saved; comments kept or not."""

    keys: tuple[ApiKey, ...]
    kept_layout: bool


def edit_api_keys(path: Path, change: Change) -> Edited:
    """Apply ``change`` to the saved ``proxy.api_keys`` and write the file.

    ``change`` may raise (``ValueError``) to refuse; nothing is written then.
    The new list is validated like at start-up (`check_api_keys`).
    """
    with config_lock(path):
        text = path.read_text(encoding="utf-8")
        data = _mapping(_loads(text), path)
        proxy = data.get("proxy") or {}
        if not isinstance(proxy, dict):
            raise ConfigError(f"{path}: proxy: expected a mapping")
        keys = change(parse_api_keys(proxy.get("api_keys")))
        problem = check_api_keys(keys, str(proxy.get("api_key") or ""))
        if problem:
            raise ConfigError(problem)
        wanted = _with_keys(data, keys)
        new_text = _edited_text(text, keys)
        kept = new_text is not None and _loads(new_text) == wanted
        if not kept or new_text is None:
            new_text = yaml.safe_dump(wanted, sort_keys=False)
        write_atomic(path, new_text.encode("utf-8"), mode=0o600, keep_owner=True)
    return Edited(keys, kept)


def _mapping(data: Any, path: Path) -> dict[str, Any]:
    if data is _INVALID:
        raise ConfigError(f"{path}: not valid YAML")
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    return data


def _with_keys(data: dict[str, Any], keys: Sequence[ApiKey]) -> dict[str, Any]:
    wanted = copy.deepcopy(data)
    proxy = wanted.get("proxy") or {}
    proxy["api_keys"] = [{"name": k.name, "key": k.key} for k in keys]
    wanted["proxy"] = proxy
    return wanted


def _loads(text: str) -> Any:
    """Parsed YAML, or `_INVALID` (never equal to data) when it does not parse."""
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return _INVALID


def _edited_text(text: str, keys: Sequence[ApiKey]) -> str | None:
    """``text`` with only ``proxy.api_keys`` rewritten, or None if not possible."""
    try:
        root = yaml.compose(text)
    except yaml.YAMLError:
        return None
    if root is not None and not _is_block_mapping(root):
        return None
    found = _pair(root, "proxy") if root is not None else None
    if found is None:
        return _ended(text) + "proxy:\n  api_keys:" + _block(keys, 2) + "\n"
    key_node, value = found
    if _is_empty(value):
        tail = text[value.end_mark.index :]
        head = text[: key_node.end_mark.index]
        return head + ":\n  api_keys:" + _block(keys, 2) + tail
    if not _is_block_mapping(value):
        return None
    return _edit_proxy(text, value, keys)


def _edit_proxy(text: str, proxy: yaml.MappingNode, keys: Sequence[ApiKey]) -> str:
    found = _pair(proxy, "api_keys")
    if found is not None:
        key_node, value = found
        column = int(key_node.start_mark.column)
        end = _content_end(value)
        return text[: key_node.end_mark.index] + ":" + _block(keys, column) + text[end:]
    column = int(proxy.value[0][0].start_mark.column)
    end = _line_end(text, _content_end(proxy))
    entry = " " * column + "api_keys:" + _block(keys, column) + "\n"
    return _ended(text[:end]) + entry + text[end:]


def _block(keys: Sequence[ApiKey], column: int) -> str:
    """The value text after ``api_keys:``: a block list, or `` []`` when empty."""
    if not keys:
        return " []"
    pad = " " * (column + 2)
    lines = [
        f"\n{pad}- name: {_scalar(k.name)}\n{pad}  key: {_scalar(k.key)}" for k in keys
    ]
    return "".join(lines)


def _ended(text: str) -> str:
    """``text`` ending with a newline, so that a new line can follow it."""
    return text if not text or text.endswith("\n") else text + "\n"


def _scalar(value: str) -> str:
    """Plain when YAML reads it back as the same string, else double-quoted."""
    return value if _loads(value) == value else json.dumps(value)


def _is_block_mapping(node: yaml.Node) -> TypeGuard[yaml.MappingNode]:
    if not isinstance(node, yaml.MappingNode):
        return False
    return not node.flow_style and bool(node.value)


def _is_empty(node: yaml.Node) -> bool:
    return isinstance(node, yaml.ScalarNode) and node.tag.endswith(":null")


def _pair(node: yaml.MappingNode, name: str) -> tuple[yaml.Node, yaml.Node] | None:
    for key_node, value in node.value:
        if isinstance(key_node, yaml.ScalarNode) and key_node.value == name:
            return key_node, value
    return None


def _content_end(node: yaml.Node) -> int:
    """Where a node's own text ends; a block collection ends with its last child.

    Why not ``end_mark``: a block collection ends where the next token starts,
    after any comments and blank lines that follow it, which must stay in place.
    """
    if isinstance(node, yaml.MappingNode) and not node.flow_style and node.value:
        return _content_end(node.value[-1][1])
    if isinstance(node, yaml.SequenceNode) and not node.flow_style and node.value:
        return _content_end(node.value[-1])
    return int(node.end_mark.index)


def _line_end(text: str, index: int) -> int:
    """The index just after the newline ending the line that holds ``index``."""
    newline = text.find("\n", index)
    return len(text) if newline < 0 else newline + 1
