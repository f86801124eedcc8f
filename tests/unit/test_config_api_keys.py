"""proxy.api_keys in config.yaml: read as ApiKey records, every bad shape named."""

from __future__ import annotations

import re

import pytest

from antigravity_proxy.apikeys import ApiKey
from antigravity_proxy.config import ConfigError, load_config

MAIN = "sk-main-0123456789abcdef"
ALICE_KEY = "sk-alice-0123456789abcdef"


def write(tmp_path, text: str):
    path = tmp_path / "config.yaml"
    path.write_text(f"proxy:\n  api_key: {MAIN}\n{text}", encoding="utf-8")
    return path


def test_api_keys_read_as_named_records(tmp_path):
    path = write(
        tmp_path,
        f"  api_keys:\n    - {{name: alice, key: {ALICE_KEY}}}\n"
        "    - name: bob\n      key: sk-bob-0123456789abcdef01\n",
    )
    config = load_config(path, env={})
    assert config.proxy.api_keys == (
        ApiKey("alice", ALICE_KEY),
        ApiKey("bob", "sk-bob-0123456789abcdef01"),
    )


@pytest.mark.parametrize("text", ["", "  api_keys:\n", "  api_keys: []\n"])
def test_api_keys_absent_or_empty_is_none(tmp_path, text):
    assert load_config(write(tmp_path, text), env={}).proxy.api_keys == ()


INVALID = [
    ("not a list", "  api_keys: {name: a}\n", "proxy.api_keys: expected a list"),
    (
        "entry not a mapping",
        "  api_keys: [alice]\n",
        "proxy.api_keys[0]: expected a mapping",
    ),
    (
        "unknown field",
        f"  api_keys: [{{name: a, key: {ALICE_KEY}, role: admin}}]\n",
        "proxy.api_keys[0].role: unknown key",
    ),
    ("missing key", "  api_keys: [{name: a}]\n", "proxy.api_keys[0].key: required key"),
    (
        "missing name",
        f"  api_keys: [{{key: {ALICE_KEY}}}]\n",
        "proxy.api_keys[0].name: required key",
    ),
    (
        "key type",
        "  api_keys: [{name: a, key: 12}]\n",
        "proxy.api_keys[0].key: expected a string",
    ),
    (
        "weak key",
        "  api_keys: [{name: a, key: abc}]\n",
        "proxy.api_keys[0].key: expected 16-256",
    ),
    (
        "duplicate name",
        f"  api_keys: [{{name: a, key: {ALICE_KEY}}}, {{name: A, key: {ALICE_KEY}x}}]\n",
        "proxy.api_keys[1].name: 'A' is already used by entry 0",
    ),
    (
        "same as main",
        f"  api_keys: [{{name: a, key: {MAIN}}}]\n",
        "proxy.api_keys[0].key: the same key as proxy.api_key",
    ),
]


@pytest.mark.parametrize(
    ("text", "message"), [(t, m) for _, t, m in INVALID], ids=[c[0] for c in INVALID]
)
def test_api_keys_invalid_stop_start_up_naming_the_entry(tmp_path, text, message):
    with pytest.raises(ConfigError, match=re.escape(message)) as info:
        load_config(write(tmp_path, text), env={})
    assert ALICE_KEY not in str(info.value) and MAIN not in str(info.value)
