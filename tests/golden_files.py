"""Golden files: read, compare, and (with ``UPDATE_GOLDEN=1``) rewrite them.

Written as ``json.dumps(x, indent=2, sort_keys=True, ensure_ascii=False) + "\\n"``
(STYLE.md) so a rewrite shows as a reviewable diff.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent / "golden"
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"


def load(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def dump(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def check_json(path: Path, actual: Any) -> None:
    if UPDATE:
        path.write_text(dump(actual), encoding="utf-8")
    assert path.exists(), f"missing golden {path}; run with UPDATE_GOLDEN=1"
    assert load(path) == actual


def check_text(path: Path, actual: str) -> None:
    if UPDATE:
        path.write_text(actual, encoding="utf-8")
    assert path.read_text(encoding="utf-8") == actual


def check_bytes(path: Path, actual: bytes) -> None:
    if UPDATE:
        path.write_bytes(actual)
    assert path.read_bytes() == actual
