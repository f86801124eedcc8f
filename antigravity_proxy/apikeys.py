"""Gateway keys: the main ``proxy.api_key`` and the named ``proxy.api_keys``.

This module owns what a key is (`ApiKey`), which names and keys are acceptable,
how a key is shown without being revealed (`fingerprint`), and `KeyRing`: the set
of keys the auth wrapper compares against, with the name of whichever matched.

Why a key ring re-reads the config file: ``antigravity-proxy keys add`` and
``keys revoke`` edit ``config.yaml`` while the gateway runs; a revoked key must
stop working without a restart. Each check costs one ``stat`` of the file; the
file is parsed again (through ``load_config``, so the same validation applies)
only when its inode, size or mtime changed. A file that no longer validates
keeps the previous keys and is logged once, by its error, never by a key.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import re
import secrets
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Final

log = logging.getLogger(__name__)

MAIN_KEY_NAME: Final = "main"
"""The name logged for ``proxy.api_key``; no teammate key may take it."""

NAME_PATTERN: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")
KEY_PATTERN: Final = re.compile(r"[A-Za-z0-9._~+/=-]{16,256}")
NAME_RULE: Final = (
    "1-64 characters from A-Z a-z 0-9 . _ @ -, starting with a letter or digit"
)
KEY_RULE: Final = "16-256 characters from A-Z a-z 0-9 . _ ~ + / = -"


@dataclass(frozen=True, slots=True)
class ApiKey:
    """One teammate's key: ``{name: alice, key: sk-...}`` in ``proxy.api_keys``."""

    name: str
    key: str = field(repr=False)


def generate_key() -> str:
    """A fresh key in the same shape as the generated main key."""
    return "sk-" + secrets.token_hex(24)


def fingerprint(key: str) -> str:
    """A short, stable tag that tells keys apart without revealing them."""
    return "sha256:" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:12]


def check_name(name: str) -> str | None:
    """Why ``name`` cannot name a key, or None when it can."""
    if not NAME_PATTERN.fullmatch(name):
        return f"name {name!r} is not allowed: use {NAME_RULE}"
    if name.casefold() == MAIN_KEY_NAME:
        return f"name {name!r} is reserved for proxy.api_key"
    return None


def check_api_keys(keys: Sequence[ApiKey], main_key: str) -> str | None:
    """The first problem with ``proxy.api_keys``, or None when they are usable.

    Names are unique (case-insensitively, so the log never shows two "Alice"s);
    keys are unique and differ from the main key, so a key names one person.
    Messages name the entry, never the key itself.
    """
    names: dict[str, int] = {}
    seen: dict[str, int] = {}
    for index, entry in enumerate(keys):
        where = f"proxy.api_keys[{index}]"
        problem = check_name(entry.name)
        if problem:
            return f"{where}.name: {problem}"
        if not KEY_PATTERN.fullmatch(entry.key):
            return f"{where}.key: expected {KEY_RULE}"
        folded = entry.name.casefold()
        if folded in names:
            taken = names[folded]
            return f"{where}.name: {entry.name!r} is already used by entry {taken}"
        if entry.key in seen:
            return f"{where}.key: the same key as entry {seen[entry.key]}"
        if main_key and hmac.compare_digest(entry.key, main_key):
            return f"{where}.key: the same key as proxy.api_key"
        names[folded], seen[entry.key] = index, index
    return None


@dataclass(frozen=True, slots=True)
class _Entry:
    name: str
    key: bytes = field(repr=False)


def _entries(main_key: str, keys: Iterable[ApiKey]) -> tuple[_Entry, ...]:
    found = [_Entry(MAIN_KEY_NAME, main_key.encode("utf-8"))] if main_key else []
    found += [_Entry(k.name, k.key.encode("utf-8")) for k in keys]
    return tuple(found)


KeyLoader = Callable[[], tuple[str, tuple[ApiKey, ...]]]
"""Reads ``(proxy.api_key, proxy.api_keys)`` from the config file again."""


class KeyRing:
    """The accepted keys and their names; reloaded when the config file changes.

    :param main_key: ``proxy.api_key`` as loaded at start-up.
    :param keys: ``proxy.api_keys`` as loaded at start-up.
    :param path: the config file to watch; ``""`` never reloads.
    :param loader: re-reads the keys from ``path``; raises on an invalid file.
    """

    def __init__(
        self,
        main_key: str,
        keys: Iterable[ApiKey] = (),
        *,
        path: str = "",
        loader: KeyLoader | None = None,
    ) -> None:
        self._entries = _entries(main_key, keys)
        self._path = path if loader is not None else ""
        self._loader = loader
        self._signature = _signature(self._path)
        self._lock = threading.Lock()

    def identify(self, presented: Iterable[str]) -> str | None:
        """The name of the key among ``presented``, or None.

        Every presented value is compared with every key, in constant time and
        without an early exit, so timing tells nothing about which part matched.
        """
        self._reload_if_changed()
        entries = self._entries
        found: str | None = None
        for candidate in presented:
            value = candidate.encode("utf-8")
            for entry in entries:
                if hmac.compare_digest(value, entry.key) and found is None:
                    found = entry.name
        return found

    def _reload_if_changed(self) -> None:
        if not self._path or _signature(self._path) == self._signature:
            return
        if not self._lock.acquire(blocking=False):
            return  # another thread is reloading; the current keys still hold
        try:
            self._reload()
        finally:
            self._lock.release()

    def _reload(self) -> None:
        signature = _signature(self._path)
        if signature is None or signature == self._signature:
            return  # a missing file keeps the keys; it may be mid-replacement
        assert self._loader is not None
        self._signature = signature
        try:
            main_key, keys = self._loader()
        except Exception as exc:  # any bad file: keep serving with the old keys
            log.warning("config changed but keeps the previous keys: %s", exc)
            return
        self._entries = _entries(main_key, keys)
        log.info("config changed: %d named API keys now accepted", len(keys))


def _signature(path: str) -> tuple[int, int, int] | None:
    if not path:
        return None
    try:
        info = os.stat(path)
    except OSError:
        return None
    return (info.st_ino, info.st_size, info.st_mtime_ns)
