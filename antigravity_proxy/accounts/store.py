"""The account files: ``<home>/accounts/<id>.json``, one Google account each.

This module owns those files, in the Antigravity-Manager format so a user can
copy that app's ``accounts`` folder in. `Account` is a typed read-only view; edits
go through `AccountStore.update`, a read-modify-write under an exclusive ``flock``
on ``<id>.json.lock`` (gunicorn workers are separate processes), written
atomically with unknown fields preserved. The common edits (`set_token`,
`disable`, `mark_forbidden`, …) are pure functions of the dict in ``edits.py``.
"""

from __future__ import annotations

import copy
import fcntl
import json
import logging
import os
import re
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from antigravity_proxy.accounts.edits import replace_token
from antigravity_proxy.accounts.quota import ModelQuota, models_from_raw
from antigravity_proxy.fsutil import write_atomic
from antigravity_proxy.upstream.egress import ProxyUrlError, normalize_proxy_url

log = logging.getLogger(__name__)

QUOTA_PROTECTION_REASON: Final = "quota_protection"
"""Legacy account-level quota protection: such an account still serves (§3.3)."""

# No leading dot (hidden/temp files); bounded so a file name never exceeds
# the filesystem's limit (an over-long id would be an OSError, not a clear error).
_ID: Final = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9_.-]{0,127}")
_SUFFIX: Final = ".json"
_CREATE_LOCK: Final = ".create.lock"


class AccountLoadError(ValueError):
    """An account file that is not a valid account; the message names the field."""


class AccountNotFound(LookupError):
    """No account file with that id."""


@dataclass(frozen=True, slots=True)
class Account:
    """A read-only, typed view of one account file (tokens hidden from repr).

    :param project_id: ``token.project_id``, ``""`` until resolved.
    :param tier: ``quota.subscription_tier``, ``""`` when unknown.
    :param forbidden: ``quota.is_forbidden``: the upstream answered 403.
    :param validation_blocked_until: unix seconds; None when not blocked.
    :param proxy_url: the egress proxy of every call for this account, ``""``
        for none (may hold credentials: hidden from repr, shown via ``redact``).
    """

    id: str
    email: str
    access_token: str = field(repr=False)
    refresh_token: str = field(repr=False)
    expires_in: int
    expiry_timestamp: int
    project_id: str = ""
    tier: str = ""
    disabled: bool = False
    disabled_reason: str | None = None
    proxy_disabled: bool = False
    proxy_disabled_reason: str | None = None
    forbidden: bool = False
    validation_blocked_until: int | None = None
    quota_models: tuple[ModelQuota, ...] = ()
    quota_last_updated: int | None = None
    proxy_url: str = field(default="", repr=False)

    def usable(self, now: float) -> bool:
        """Whether the account may serve requests at ``now`` (unix seconds).

        Skips disabled, forbidden, proxy-disabled and validation-blocked accounts.
        Unlike Antigravity-Manager, an account without quota data is usable (its
        quota is simply unknown), and a legacy ``quota_protection`` proxy-disable
        does not lock the account out for good: quota is checked per model.
        """
        legacy = self.proxy_disabled_reason == QUOTA_PROTECTION_REASON
        if self.disabled or self.forbidden or (self.proxy_disabled and not legacy):
            return False
        blocked = self.validation_blocked_until
        return blocked is None or now >= blocked


def account_from_raw(raw: Mapping[str, Any], *, source: str = "account") -> Account:
    """Build an `Account` from a parsed file, or raise `AccountLoadError`.

    Required (as Antigravity-Manager's loader requires them): ``id``, ``email``,
    ``token.access_token``, ``token.refresh_token``, ``token.expires_in`` and
    ``token.expiry_timestamp``. Optional fields of the wrong type read as absent,
    except ``proxy_url``: an account whose proxy cannot be read must not leave
    directly instead, so it fails to load (and is skipped, logged by name).
    """
    token, quota = _mapping(raw.get("token")), _mapping(raw.get("quota"))
    return Account(
        id=_required_str(raw, "id", source),
        email=_required_str(raw, "email", source),
        access_token=_required_str(token, "token.access_token", source),
        refresh_token=_required_str(token, "token.refresh_token", source),
        expires_in=_required_int(token, "token.expires_in", source),
        expiry_timestamp=_required_int(token, "token.expiry_timestamp", source),
        project_id=_optional_str(token.get("project_id")) or "",
        tier=_optional_str(quota.get("subscription_tier")) or "",
        disabled=raw.get("disabled") is True,
        disabled_reason=_optional_str(raw.get("disabled_reason")),
        proxy_disabled=raw.get("proxy_disabled") is True,
        proxy_disabled_reason=_optional_str(raw.get("proxy_disabled_reason")),
        forbidden=quota.get("is_forbidden") is True,
        validation_blocked_until=_validation_blocked_until(raw),
        quota_models=models_from_raw(quota),
        quota_last_updated=_optional_int(quota.get("last_updated")),
        proxy_url=_proxy_url(raw.get("proxy_url"), source),
    )


def _proxy_url(value: object, source: str) -> str:
    if value is None or value == "":
        return ""
    if not isinstance(value, str):
        raise AccountLoadError(f"{source}: field proxy_url: expected a string")
    try:
        return normalize_proxy_url(value)
    except ProxyUrlError as exc:
        raise AccountLoadError(f"{source}: field proxy_url: {exc}") from None


def _required_str(raw: Mapping[str, Any], name: str, source: str) -> str:
    value = raw.get(name.rpartition(".")[2])
    if isinstance(value, str) and value:
        return value
    raise AccountLoadError(f"{source}: missing or empty field {name}")


def _required_int(raw: Mapping[str, Any], name: str, source: str) -> int:
    value = _optional_int(raw.get(name.rpartition(".")[2]))
    if value is not None:
        return value
    raise AccountLoadError(f"{source}: missing or non-integer field {name}")


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _optional_str(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _optional_int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _validation_blocked_until(raw: Mapping[str, Any]) -> int | None:
    if raw.get("validation_blocked") is not True:
        return None
    return _optional_int(raw.get("validation_blocked_until"))


def validate_id(account_id: str) -> str:
    """Return ``account_id`` if it is a safe file name stem, else raise ValueError."""
    if not _ID.fullmatch(account_id):
        raise ValueError(f"invalid account id {account_id!r}")
    return account_id


# How long an unchanged accounts directory is trusted without a stat per file.
SNAPSHOT_SECONDS: Final = 1.0


class AccountStore:
    """The ``accounts`` directory: one JSON file per account.

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
        return sorted(stem for stem in stems if _ID.fullmatch(stem))

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
                token = _mapping(new.get("token"))
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
