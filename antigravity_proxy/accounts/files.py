"""`AccountFiles`: the default `AccountStore`, ``<home>/accounts/<id>.json``.

One Google account per file, in the Antigravity-Manager format. Edits are a
read-modify-write under an exclusive ``flock`` on ``<id>.json.lock`` (gunicorn
workers are separate processes), written atomically with unknown fields
preserved.
"""

from __future__ import annotations

import copy
import fcntl
import json
import logging
import os
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final

from antigravity_proxy.accounts.edits import replace_token
from antigravity_proxy.accounts.store import (
    ID_PATTERN,
    Account,
    AccountLoadError,
    AccountNotFound,
    account_from_raw,
    validate_id,
)
from antigravity_proxy.fsutil import write_atomic

log = logging.getLogger(__name__)

_SUFFIX: Final = ".json"
_CREATE_LOCK: Final = ".create.lock"

# How long an unchanged accounts directory is trusted without a stat per file.
SNAPSHOT_SECONDS: Final = 1.0


class AccountFiles:
    """The ``accounts`` directory: one JSON file per account (an `AccountStore`).

    :param directory: ``<home>/accounts``; created on the first write.
    :param clock: unix time source, for ``created_at``.
    """

    def __init__(
        self,
        directory: Path,
        *,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._directory = directory
        self._clock = clock
        self._monotonic = monotonic
        self._cache: dict[str, tuple[tuple[int, int, int], Account]] = {}
        self._snapshot: tuple[tuple[int, int], float, list[Account]] | None = None

    def ids(self) -> list[str]:
        """Ids of the account files present, sorted; temp and lock files ignored."""
        try:
            names = [entry.name for entry in self._directory.iterdir()]
        except FileNotFoundError:
            return []
        stems = (name[: -len(_SUFFIX)] for name in names if name.endswith(_SUFFIX))
        return sorted(stem for stem in stems if ID_PATTERN.fullmatch(stem))

    def get(self, account_id: str) -> Account:
        """The account, or `AccountNotFound` / `AccountLoadError`.

        Parsed files are cached by inode, size and mtime: every write is an
        atomic rename (a new inode), so a cached entry is never stale, and the
        request path pays a ``stat`` instead of a JSON parse per account.
        """
        path = self._path(account_id)
        try:
            info = path.stat()
        except FileNotFoundError:
            raise AccountNotFound(account_id) from None
        signature = (info.st_ino, info.st_size, info.st_mtime_ns)
        cached = self._cache.get(account_id)
        if cached is not None and cached[0] == signature:
            return cached[1]
        account = _checked(self._read(path), account_id, path.name)
        self._cache[account_id] = (signature, account)
        return account

    def get_raw(self, account_id: str) -> dict[str, Any]:
        """The parsed file, unvalidated beyond being a JSON object."""
        return self._read(self._path(account_id))

    def all(self) -> list[Account]:
        """Every readable account; a bad file is logged by name and skipped.

        Why a snapshot: every request chooses among all accounts, and listing
        the directory plus a ``stat`` per file cost more than the choice. Every
        write here is an atomic rename, which changes the directory's mtime, so
        an unchanged directory means unchanged files; a file edited in place by
        hand is still seen within ``SNAPSHOT_SECONDS``.
        """
        try:
            info = self._directory.stat()
        except FileNotFoundError:
            return []
        version = (info.st_ino, info.st_mtime_ns)
        now = self._monotonic()
        snapshot = self._snapshot
        if snapshot is not None and snapshot[0] == version and now < snapshot[1]:
            return list(snapshot[2])
        accounts = self._scan()
        self._snapshot = (version, now + SNAPSHOT_SECONDS, accounts)
        return list(accounts)

    def _scan(self) -> list[Account]:
        accounts: list[Account] = []
        for account_id in self.ids():
            try:
                accounts.append(self.get(account_id))
            except AccountNotFound:
                continue  # removed since ids() listed it
            except (AccountLoadError, OSError) as exc:
                log.warning("skipping account file %s%s: %s", account_id, _SUFFIX, exc)
        return accounts

    def create(self, raw: Mapping[str, Any]) -> Account:
        """Add an account; an existing account with the same email gets the token.

        Logging in again with a known Google account must not duplicate it; the
        new token replaces the old one (see `replace_token`). A missing ``id`` gets
        a fresh UUID 4, a missing ``created_at`` the current time.
        """
        new = copy.deepcopy(dict(raw))
        with _locked(self._directory / _CREATE_LOCK):
            existing = self._find_by_email(new.get("email"))
            if existing is not None:
                token = _token(new)
                return self.update(
                    existing, lambda current: replace_token(current, token)
                )
            if new.get("id") is None:
                new["id"] = str(uuid.uuid4())
            path = self._path(str(new["id"]))
            new.setdefault("created_at", int(self._clock()))
            account = _checked(new, str(new["id"]), path.name)
            with _locked(_lock_path(path)):
                if path.exists():
                    raise FileExistsError(f"account {account.id} already exists")
                _write(path, new)
        return account

    def update(
        self, account_id: str, mutate: Callable[[dict[str, Any]], None]
    ) -> Account:
        """Read, ``mutate`` in place, validate and rewrite one file, atomically.

        The lock spans the read and the write, so updates from several processes
        are serialised. A mutation leaving the file invalid, or unchanged (the
        token another worker just refreshed), writes nothing.
        """
        path = self._path(account_id)
        with _locked(_lock_path(path)):
            raw = self._read(path)
            before = copy.deepcopy(raw)
            mutate(raw)
            account = _checked(raw, account_id, path.name)
            if raw != before:
                _write(path, raw)
        return account

    def remove(self, account_id: str) -> None:
        """Delete the account file (and its lock file); `AccountNotFound` if absent."""
        path = self._path(account_id)
        lock = _lock_path(path)
        with _locked(lock):
            try:
                path.unlink()
            except FileNotFoundError:
                raise AccountNotFound(account_id) from None
            lock.unlink(missing_ok=True)

    def _path(self, account_id: str) -> Path:
        return self._directory / f"{validate_id(account_id)}{_SUFFIX}"

    def _read(self, path: Path) -> dict[str, Any]:
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise AccountNotFound(path.name[: -len(_SUFFIX)]) from None
        try:
            raw = json.loads(data)
        except (ValueError, RecursionError) as exc:
            # The decoder's message gives a position, never the file's content.
            raise AccountLoadError(f"{path.name}: not valid JSON: {exc}") from None
        if not isinstance(raw, dict):
            raise AccountLoadError(f"{path.name}: not a JSON object")
        return raw

    def _find_by_email(self, email: object) -> str | None:
        if not isinstance(email, str) or not email.strip():
            return None
        wanted = email.strip().casefold()
        for account_id in self.ids():
            try:
                found = self.get_raw(account_id).get("email")
            except (AccountNotFound, AccountLoadError, OSError):
                continue
            if isinstance(found, str) and found.strip().casefold() == wanted:
                return account_id
        return None


def _token(raw: Mapping[str, Any]) -> Mapping[str, Any]:
    value = raw.get("token")
    return value if isinstance(value, Mapping) else {}


def _checked(raw: Mapping[str, Any], account_id: str, source: str) -> Account:
    account = account_from_raw(raw, source=source)
    if account.id != account_id:
        raise AccountLoadError(f"{source}: field id {account.id!r} does not match")
    return account


def _lock_path(path: Path) -> Path:
    return path.with_name(path.name + ".lock")


@contextmanager
def _locked(lock_path: Path) -> Iterator[None]:
    lock_path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def _write(path: Path, raw: Mapping[str, Any]) -> None:
    # Pretty-printed like Antigravity-Manager's serde_json::to_string_pretty.
    text = json.dumps(raw, indent=2, ensure_ascii=False) + "\n"
    write_atomic(path, text.encode("utf-8"))
