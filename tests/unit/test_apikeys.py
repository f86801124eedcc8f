"""Named gateway keys: validation, fingerprints, the key ring and its reloads."""

from __future__ import annotations

import os

import pytest

from antigravity_proxy.apikeys import (
    ApiKey,
    KeyRing,
    check_api_keys,
    check_name,
    fingerprint,
    generate_key,
)

MAIN = "sk-main-0123456789abcdef"
ALICE = ApiKey("alice", "sk-alice-0123456789abcdef")
BOB = ApiKey("bob", "sk-bob-0123456789abcdef01")

INVALID_KEYS = [
    ("bad name char", [ApiKey("al ice", ALICE.key)], "[0].name: name 'al ice'"),
    ("empty name", [ApiKey("", ALICE.key)], "[0].name: name ''"),
    ("leading dot", [ApiKey(".alice", ALICE.key)], "[0].name: name '.alice'"),
    ("reserved", [ApiKey("Main", ALICE.key)], "[0].name: name 'Main' is reserved"),
    ("short key", [ApiKey("alice", "sk-short")], "[0].key: expected 16-256"),
    ("key space", [ApiKey("alice", "sk-alice 0123456789")], "[0].key: expected"),
    ("dup name", [ALICE, ApiKey("ALICE", BOB.key)], "[1].name: 'ALICE' is already"),
    ("dup key", [ALICE, ApiKey("bob", ALICE.key)], "[1].key: the same key as entry 0"),
    ("main key", [ApiKey("bob", MAIN)], "[0].key: the same key as proxy.api_key"),
]


@pytest.mark.parametrize(
    ("keys", "message"),
    [(k, m) for _, k, m in INVALID_KEYS],
    ids=[c[0] for c in INVALID_KEYS],
)
def test_check_api_keys_names_the_entry_never_the_key(keys, message):
    problem = check_api_keys(keys, MAIN)
    assert problem is not None and message in problem
    assert problem.startswith("proxy.api_keys[")
    for entry in keys:
        assert entry.key not in problem
    assert MAIN not in problem


def test_check_api_keys_accepts_distinct_sane_entries():
    assert (
        check_api_keys([ALICE, BOB, ApiKey("carol@corp.example", "x" * 16)], MAIN)
        is None
    )
    assert check_api_keys([], MAIN) is None


@pytest.mark.parametrize("name", ["a", "alice", "Bob-2", "c.d_e", "eve@corp", "9" * 64])
def test_check_name_accepts(name):
    assert check_name(name) is None


@pytest.mark.parametrize("name", ["", "-a", "a b", "a/b", "a\nb", "x" * 65, "main"])
def test_check_name_refuses(name):
    assert check_name(name)


def test_generate_key_is_fresh_and_valid():
    first, second = generate_key(), generate_key()
    assert first != second
    assert check_api_keys([ApiKey("a", first)], MAIN) is None


def test_fingerprint_is_short_stable_and_not_the_key():
    tag = fingerprint(ALICE.key)
    assert tag == fingerprint(ALICE.key) != fingerprint(BOB.key)
    assert tag.startswith("sha256:") and len(tag) == len("sha256:") + 12
    assert ALICE.key not in tag


def test_api_key_repr_hides_the_key():
    assert ALICE.key not in repr(ALICE)


def test_key_ring_identifies_main_and_named_keys():
    ring = KeyRing(MAIN, [ALICE, BOB])
    assert ring.identify([MAIN]) == "main"
    assert ring.identify([ALICE.key]) == "alice"
    assert ring.identify(["sk-wrong", BOB.key]) == "bob"
    assert ring.identify(["sk-wrong"]) is None
    assert ring.identify([]) is None
    assert ring.identify([ALICE.key[:-1]]) is None


def test_key_ring_first_matching_carrier_names_the_request():
    ring = KeyRing(MAIN, [ALICE, BOB])
    assert ring.identify([BOB.key, ALICE.key]) == "bob"


class FileLoader:
    """Reads keys from a file of 'name key' lines, like the config file would."""

    def __init__(self, path):
        self.path = path
        self.calls = 0

    def write(self, *keys: ApiKey, main: str = MAIN) -> None:
        lines = [f"main {main}", *(f"{k.name} {k.key}" for k in keys)]
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text("\n".join(lines))
        os.replace(tmp, self.path)  # a new inode, as write_atomic makes

    def __call__(self):
        self.calls += 1
        rows = [line.split(" ") for line in self.path.read_text().splitlines()]
        if any(len(row) != 2 for row in rows):
            raise ValueError("line with a bad shape")
        keys = tuple(ApiKey(n, k) for n, k in rows[1:])
        return rows[0][1], keys


@pytest.fixture
def ring_on_file(tmp_path):
    loader = FileLoader(tmp_path / "keys.txt")
    loader.write(ALICE)
    ring = KeyRing(MAIN, [ALICE], path=str(loader.path), loader=loader)
    return ring, loader


def test_key_ring_reloads_when_the_file_changes(ring_on_file):
    ring, loader = ring_on_file
    assert ring.identify([ALICE.key]) == "alice"
    assert loader.calls == 0  # unchanged file: one stat, no parse
    loader.write(BOB)
    assert ring.identify([ALICE.key]) is None  # revoked, no restart
    assert ring.identify([BOB.key]) == "bob"
    assert loader.calls == 1
    ring.identify([BOB.key])
    assert loader.calls == 1


def test_key_ring_reloads_the_main_key_too(ring_on_file):
    ring, loader = ring_on_file
    loader.write(ALICE, main="sk-new-main-0123456789")
    assert ring.identify([MAIN]) is None
    assert ring.identify(["sk-new-main-0123456789"]) == "main"


def test_key_ring_keeps_keys_when_the_new_file_is_invalid(ring_on_file, caplog):
    ring, loader = ring_on_file
    loader.path.write_text("main\n")
    assert ring.identify([ALICE.key]) == "alice"
    assert "keeps the previous keys: line with a bad shape" in caplog.text
    assert ALICE.key not in caplog.text
    ring.identify([ALICE.key])
    assert loader.calls == 1  # the same broken file is not parsed again
    loader.write(BOB)
    assert ring.identify([BOB.key]) == "bob"


def test_key_ring_keeps_keys_when_the_file_disappears(ring_on_file):
    ring, loader = ring_on_file
    loader.path.unlink()
    assert ring.identify([ALICE.key]) == "alice"
    assert loader.calls == 0


def test_key_ring_without_loader_never_reloads(tmp_path):
    path = tmp_path / "keys.txt"
    path.write_text("x")
    ring = KeyRing(MAIN, [ALICE], path=str(path))
    path.write_text("changed")
    assert ring.identify([ALICE.key]) == "alice"
