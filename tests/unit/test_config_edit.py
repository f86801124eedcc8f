"""Editing proxy.api_keys in config.yaml: only that value changes, comments stay."""

from __future__ import annotations

import os
import re

import pytest
import yaml

from antigravity_proxy.apikeys import ApiKey
from antigravity_proxy.config import ConfigError, load_config
from antigravity_proxy.config_edit import edit_api_keys

ALICE = ApiKey("alice", "sk-alice-0123456789abcdef")
BOB = ApiKey("bob", "sk-bob-0123456789abcdef01")
ODD = ApiKey("123", "0000000000000000")  # plain YAML would read both as ints

# (case, original text, text after adding ALICE). The expected texts are
# written out so a reviewer sees exactly what the edit does to a file.
LAYOUTS = [
    (
        "template empty list",
        "# top comment\nproxy:\n  api_key: sk-main-0123456789abcdef\n"
        "  # about keys\n  api_keys: []\n  auth_mode: auto   # mode\nserver:\n  port: 1\n",
        "# top comment\nproxy:\n  api_key: sk-main-0123456789abcdef\n"
        "  # about keys\n  api_keys:\n    - name: alice\n      key: sk-alice-0123456789abcdef\n"
        "  auth_mode: auto   # mode\nserver:\n  port: 1\n",
    ),
    (
        "no api_keys in proxy",
        "proxy:\n  api_key: sk-main-0123456789abcdef  # main\n# after proxy\nzai: {}\n",
        "proxy:\n  api_key: sk-main-0123456789abcdef  # main\n"
        "  api_keys:\n    - name: alice\n      key: sk-alice-0123456789abcdef\n"
        "# after proxy\nzai: {}\n",
    ),
    (
        "existing block list",
        "proxy:\n    api_keys:\n        - name: bob\n          key: sk-bob-0123456789abcdef01\n"
        "    # trailing comment\n    auth_mode: strict\n",
        "proxy:\n    api_keys:\n      - name: bob\n        key: sk-bob-0123456789abcdef01\n"
        "      - name: alice\n        key: sk-alice-0123456789abcdef\n"
        "    # trailing comment\n    auth_mode: strict\n",
    ),
    (
        "empty api_keys value",
        "proxy:\n  api_keys:\n  auth_mode: strict\n",
        "proxy:\n  api_keys:\n    - name: alice\n      key: sk-alice-0123456789abcdef\n"
        "  auth_mode: strict\n",
    ),
    (
        "empty proxy",
        "# c\nproxy:\nserver: {port: 1}\n",
        "# c\nproxy:\n  api_keys:\n    - name: alice\n      key: sk-alice-0123456789abcdef\n"
        "server: {port: 1}\n",
    ),
    (
        "no proxy, no final newline",
        "server:\n  port: 1  # last",
        "server:\n  port: 1  # last\n"
        "proxy:\n  api_keys:\n    - name: alice\n      key: sk-alice-0123456789abcdef\n",
    ),
    (
        "comments only",
        "# nothing yet\n",
        "# nothing yet\n"
        "proxy:\n  api_keys:\n    - name: alice\n      key: sk-alice-0123456789abcdef\n",
    ),
    (
        "last key of the file",
        "proxy:\n  auth_mode: strict",
        "proxy:\n  auth_mode: strict\n"
        "  api_keys:\n    - name: alice\n      key: sk-alice-0123456789abcdef\n",
    ),
]


def add(new: ApiKey):
    return lambda keys: (*keys, new)


@pytest.mark.parametrize(
    ("original", "expected"),
    [(o, e) for _, o, e in LAYOUTS],
    ids=[c[0] for c in LAYOUTS],
)
def test_edit_api_keys_changes_only_that_value(tmp_path, original, expected):
    path = tmp_path / "config.yaml"
    path.write_text(original)
    edited = edit_api_keys(path, add(ALICE))
    assert edited.kept_layout
    assert path.read_text() == expected
    assert ALICE in edited.keys


def test_edit_api_keys_revoke_to_empty_and_back(tmp_path):
    path = tmp_path / "config.yaml"
    original = "proxy:\n  api_key: sk-main-0123456789abcdef  # k\n  api_keys: []\n"
    path.write_text(original)
    edit_api_keys(path, add(ALICE))
    edit_api_keys(path, add(BOB))
    edit_api_keys(path, lambda keys: tuple(k for k in keys if k.name != "alice"))
    assert yaml.safe_load(path.read_text())["proxy"]["api_keys"] == [
        {"name": "bob", "key": BOB.key}
    ]
    edit_api_keys(path, lambda keys: ())
    assert path.read_text() == original


def test_edit_api_keys_quotes_values_yaml_would_misread(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text("proxy:\n  api_key: sk-main-0123456789abcdef\n")
    edit_api_keys(path, add(ODD))
    assert '- name: "123"\n' in path.read_text()
    config = load_config(path, env={})
    assert config.proxy.api_keys == (ODD,)


def test_edit_api_keys_flow_proxy_falls_back_to_a_plain_dump(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text(
        "# gone\nproxy: {api_key: sk-main-0123456789abcdef}\nserver: {port: 1}\n"
    )
    edited = edit_api_keys(path, add(ALICE))
    assert not edited.kept_layout
    assert yaml.safe_load(path.read_text()) == {
        "proxy": {
            "api_key": "sk-main-0123456789abcdef",
            "api_keys": [{"name": "alice", "key": ALICE.key}],
        },
        "server": {"port": 1},
    }


def test_edit_api_keys_refusal_writes_nothing(tmp_path):
    path = tmp_path / "config.yaml"
    original = "proxy:\n  api_keys: []\n"
    path.write_text(original)
    inode = path.stat().st_ino

    def refuse(keys):
        raise ValueError("no")

    with pytest.raises(ValueError, match="no"):
        edit_api_keys(path, refuse)
    with pytest.raises(ConfigError, match=r"proxy.api_keys\[1\].name"):
        edit_api_keys(path, lambda keys: (ALICE, ApiKey("Alice", BOB.key)))
    assert path.read_text() == original and path.stat().st_ino == inode


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("proxy: [\n", "not valid YAML"),
        ("- a\n", "expected a mapping at the top level"),
        ("proxy: 3\n", "proxy: expected a mapping"),
        ("proxy:\n  api_keys: [{name: a}]\n", "proxy.api_keys[0].key: required key"),
    ],
)
def test_edit_api_keys_rejects_a_broken_file(tmp_path, text, message):
    path = tmp_path / "config.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=re.escape(message)):
        edit_api_keys(path, add(ALICE))
    assert path.read_text() == text


def test_edit_api_keys_writes_atomically_with_private_mode(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text("proxy: {}\n")
    os.chmod(path, 0o644)
    edit_api_keys(path, add(ALICE))
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
