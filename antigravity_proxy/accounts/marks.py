"""Account runtime marks shared by a group of boxes: `SharedMarks`.

Each box keeps its own copy of the account files (the source of refresh tokens,
written atomically as before). What changes at run time is shared through the
``SharedState`` under namespace ``account``, one key per mark kind
(``<id>:token`` …), so box B learns at once what box A found out:

- ``token``: the current access token and its expiry (one box's refresh serves
  every box); the later expiry wins over the file's (a tie too), and the key
  lives an hour past the token's expiry;
- ``disabled`` (with reason), ``proxy`` (the user's or the 403's disable, with
  reason) and ``forbidden``: the group's latest decision wins over the file;
- ``quota``: the per-model quota fetched by the one box that ran the round; the
  later ``last_updated`` wins.

A store ``update`` starts from the group's marks (written into this box's file
too) and publishes the kinds its edit changed. Reads on the request
path come from one ``get_many`` at most every ``CACHE_SECONDS`` per process;
``get`` (token refresh, warm-up) always reads afresh. The state is advisory: when
it is unreachable the files alone decide, exactly as on a single box. Values
hold access tokens, so they never appear in a log line or an error.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, Final, TypeGuard

from antigravity_proxy.accounts.files import AccountFiles
from antigravity_proxy.accounts.quota import models_from_raw
from antigravity_proxy.accounts.store import Account, AccountStore
from antigravity_proxy.config import Config
from antigravity_proxy.state import SharedState

NAMESPACE: Final = "account"
KINDS: Final = ("token", "disabled", "proxy", "forbidden", "quota")
MARK_TTL: Final = 30 * 86400.0
"""How long a disable, forbidden or quota mark outlives its last change."""
TOKEN_AFTERLIFE: Final = 3600.0
CACHE_SECONDS: Final = 1.0

Records = Mapping[str, str]
"""``<id>:<kind>`` -> the JSON text published for that mark."""


def account_store(config: Config, state: SharedState) -> AccountStore:
    """The account files; with a state shared by boxes (Redis), their marks shared.

    Why not on SQLite too: there every worker already reads the same files, and
    a mark in ``state.db`` would only overrule a file edited by hand.
    """
    files = AccountFiles(config.accounts_dir)
    return SharedMarks(files, state) if config.state.backend == "redis" else files


def marks_from_raw(raw: Mapping[str, Any]) -> dict[str, Any]:
    """kind -> the value of that mark in a parsed account file (pure)."""
    token = _mapping(raw.get("token"))
    quota = _mapping(raw.get("quota"))
    return {
        "token": {
            key: token.get(key)
            for key in ("access_token", "expires_in", "expiry_timestamp")
        },
        "disabled": {
            "on": raw.get("disabled") is True,
            "reason": raw.get("disabled_reason"),
        },
        "proxy": {
            "on": raw.get("proxy_disabled") is True,
            "reason": raw.get("proxy_disabled_reason"),
        },
        "forbidden": {"on": quota.get("is_forbidden") is True},
        "quota": {
            key: value
            for key, value in quota.items()
            if key not in ("is_forbidden", "forbidden_reason")
        },
    }


def changed_marks(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[str]:
    """The kinds whose value differs between two ``marks_from_raw`` results."""
    return [kind for kind in KINDS if before.get(kind) != after.get(kind)]


def overlay(account: Account, records: Records) -> Account:
    """``account`` as the group sees it: its file view with the shared marks on top.

    A malformed record (another version, a hand edit) is ignored, never an error.
    """
    changes: dict[str, Any] = {}
    for kind in KINDS:
        text = records.get(f"{account.id}:{kind}")
        value = _loads(text) if text is not None else None
        if isinstance(value, dict):
            changes.update(_OVERLAYS[kind](account, value))
    return dataclasses.replace(account, **changes) if changes else account


def apply_marks(raw: dict[str, Any], records: Records, account_id: str) -> None:
    """Write the group's marks into a parsed account file, as ``overlay`` reads them.

    Why: an edit made on this box must start from what the group knows (enabling
    an account another box marked forbidden must clear that mark for everyone),
    and the file then keeps the group's view should the shared state be lost.
    """
    for kind in KINDS:
        text = records.get(f"{account_id}:{kind}")
        value = _loads(text) if text is not None else None
        if isinstance(value, dict):
            _APPLIERS[kind](raw, value)


def _apply_token(raw: dict[str, Any], value: dict[str, Any]) -> None:
    token = raw.get("token")
    if not isinstance(token, dict):
        return
    current = token.get("expiry_timestamp")
    current = current if _is_int(current) else 0
    found = _token_changes_at(current, value)
    if found:
        token.update(found)


def _apply_switch(on: str, why: str | None) -> Callable[..., None]:
    def apply(raw: dict[str, Any], value: dict[str, Any]) -> None:
        if not isinstance(value.get("on"), bool):
            return
        raw[on] = value["on"]
        if why is not None:
            reason = value.get("reason")
            raw[why] = reason if isinstance(reason, str) else None

    return apply


def _apply_forbidden(raw: dict[str, Any], value: dict[str, Any]) -> None:
    if not isinstance(value.get("on"), bool):
        return
    quota = raw.get("quota")
    if isinstance(quota, dict):
        quota["is_forbidden"] = value["on"]
    elif value["on"]:
        raw["quota"] = {"is_forbidden": True}


def _apply_quota(raw: dict[str, Any], value: dict[str, Any]) -> None:
    quota = raw.get("quota")
    quota = quota if isinstance(quota, dict) else {}
    updated, current = value.get("last_updated"), quota.get("last_updated")
    if not _is_int(updated) or updated <= (current if _is_int(current) else 0):
        return
    kept = {k: quota[k] for k in ("is_forbidden", "forbidden_reason") if k in quota}
    raw["quota"] = {**copy.deepcopy(value), **kept}


def _token_changes_at(expiry_now: int, value: dict[str, Any]) -> dict[str, Any]:
    """The shared token's fields unless it expires before ``expiry_now``."""
    token, expiry = value.get("access_token"), value.get("expiry_timestamp")
    expires_in = value.get("expires_in")
    if not (isinstance(token, str) and token and _is_int(expiry)):
        return {}
    # On a tie (two refreshes in one second) the group's latest put wins.
    if expiry < expiry_now:
        return {}
    found: dict[str, Any] = {"access_token": token, "expiry_timestamp": expiry}
    if _is_int(expires_in):
        found["expires_in"] = expires_in
    return found


def _token_changes(account: Account, value: dict[str, Any]) -> dict[str, Any]:
    return _token_changes_at(account.expiry_timestamp, value)


def _switch_changes(on: str, why: str | None) -> Callable[..., dict[str, Any]]:
    def changes(account: Account, value: dict[str, Any]) -> dict[str, Any]:
        if not isinstance(value.get("on"), bool):
            return {}
        found: dict[str, Any] = {on: value["on"]}
        if why is not None:
            reason = value.get("reason")
            found[why] = reason if isinstance(reason, str) else None
        return found

    return changes


def _quota_changes(account: Account, value: dict[str, Any]) -> dict[str, Any]:
    updated = value.get("last_updated")
    if not _is_int(updated) or updated <= (account.quota_last_updated or 0):
        return {}
    tier = value.get("subscription_tier")
    return {
        "quota_models": models_from_raw(value),
        "quota_last_updated": updated,
        "tier": tier if isinstance(tier, str) and tier else account.tier,
    }


_APPLIERS: Final[Mapping[str, Callable[[dict[str, Any], dict[str, Any]], None]]] = {
    "token": _apply_token,
    "disabled": _apply_switch("disabled", "disabled_reason"),
    "proxy": _apply_switch("proxy_disabled", "proxy_disabled_reason"),
    "forbidden": _apply_forbidden,
    "quota": _apply_quota,
}
_OVERLAYS: Final[Mapping[str, Callable[[Account, dict[str, Any]], dict[str, Any]]]] = {
    "token": _token_changes,
    "disabled": _switch_changes("disabled", "disabled_reason"),
    "proxy": _switch_changes("proxy_disabled", "proxy_disabled_reason"),
    "forbidden": _switch_changes("forbidden", None),
    "quota": _quota_changes,
}


class SharedMarks:
    """An `AccountStore` whose runtime marks are shared through a ``SharedState``.

    :param inner: the store holding the records (the account files).
    :param state: the group's shared state.
    :param clock: unix time, for the token key's lifetime.
    :param monotonic: for the read cache.
    """

    def __init__(
        self,
        inner: AccountStore,
        state: SharedState,
        *,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.inner = inner
        self.state = state
        self._clock = clock
        self._monotonic = monotonic
        self._records: dict[str, str] = {}
        self._fresh_until = 0.0
        self._views: dict[str, tuple[Account, Records, Records, Account]] = {}
        self._lock = threading.Lock()

    def ids(self) -> list[str]:
        return self.inner.ids()

    def get(self, account_id: str) -> Account:
        """The account with the marks read afresh (a token another box refreshed)."""
        account = self.inner.get(account_id)
        records = self.state.get_many(NAMESPACE, _keys([account_id]))
        with self._lock:
            for key in _keys([account_id]):
                self._remember(key, records.get(key))
        return overlay(account, records)

    def all(self) -> list[Account]:
        """Every account as the group sees it; marks at most ``CACHE_SECONDS`` old."""
        accounts = self.inner.all()
        records = self._cached_records(accounts)
        return [self._view(account, records) for account in accounts]

    def create(self, raw: Mapping[str, Any]) -> Account:
        """The inner ``create``; its token and enabled state become the group's.

        Why: logging in again with a known account merges the new token into its
        file and lifts an ``invalid_grant`` disable; the group's older marks
        must not keep the account disabled, or its dead token in use.
        """
        account = self.inner.create(raw)
        self._publish(account.id, {}, _created_marks(account))
        return self.get(account.id)

    def update(
        self, account_id: str, mutate: Callable[[dict[str, Any]], None]
    ) -> Account:
        """The inner ``update`` from the group's marks; publish what the edit changed.

        The edit sees (and the file keeps) the group's marks, so only what
        ``mutate`` itself changed is published: a quota refresh on a box whose
        file predates another box's forbidden mark does not undo that mark.
        """
        seen: dict[str, dict[str, Any]] = {}

        def watched(raw: dict[str, Any]) -> None:
            records = self.state.get_many(NAMESPACE, _keys([account_id]))
            apply_marks(raw, records, account_id)
            seen["before"] = copy.deepcopy(marks_from_raw(raw))
            mutate(raw)
            seen["after"] = marks_from_raw(raw)

        self.inner.update(account_id, watched)
        self._publish(account_id, seen["before"], seen["after"])
        return self.get(account_id)

    def remove(self, account_id: str) -> None:
        self.inner.remove(account_id)

    def _publish(
        self, account_id: str, before: dict[str, Any], after: dict[str, Any]
    ) -> None:
        for kind in changed_marks(before, after):
            ttl = self._ttl(kind, after[kind])
            if ttl <= 0:
                continue
            text = json.dumps(after[kind], separators=(",", ":"))
            self.state.put(NAMESPACE, f"{account_id}:{kind}", text, ttl)

    def _ttl(self, kind: str, value: Mapping[str, Any]) -> float:
        if kind != "token":
            return MARK_TTL
        expiry = value.get("expiry_timestamp")
        if not _is_int(expiry):
            return 0.0
        # Kept a while past expiry so every box agrees which token is stale
        # and so asks for the same refresh lease (tokens.py).
        return expiry + TOKEN_AFTERLIFE - self._clock()

    def _cached_records(self, accounts: list[Account]) -> Records:
        now = self._monotonic()
        if now < self._fresh_until:
            return self._records
        keys = _keys([account.id for account in accounts])
        found = self.state.get_many(NAMESPACE, keys) if keys else {}
        with self._lock:
            self._records = dict(found)
            self._fresh_until = now + CACHE_SECONDS
        return found

    def _remember(self, key: str, value: str | None) -> None:
        records = dict(self._records)
        if value is None:
            records.pop(key, None)
        else:
            records[key] = value
        self._records = records

    def _view(self, account: Account, records: Records) -> Account:
        """``overlay``, reused while neither the file view nor its records change.

        Why: this runs for every account on every request; the common case is
        two identity checks, not five look-ups and a dataclass copy.
        """
        cached = self._views.get(account.id)
        if cached is not None and cached[0] is account and cached[1] is records:
            return cached[3]
        mine = {key: records[key] for key in _keys([account.id]) if key in records}
        if cached is not None and cached[0] is account and cached[2] == mine:
            view = cached[3]
        else:
            view = overlay(account, mine)
        self._views[account.id] = (account, records, mine, view)
        return view


def _created_marks(account: Account) -> dict[str, Any]:
    """The ``token`` and ``disabled`` marks of ``account``, as ``marks_from_raw``."""
    return {
        "token": {
            "access_token": account.access_token,
            "expires_in": account.expires_in,
            "expiry_timestamp": account.expiry_timestamp,
        },
        "disabled": {"on": account.disabled, "reason": account.disabled_reason},
    }


def _keys(account_ids: list[str]) -> list[str]:
    return [f"{account_id}:{kind}" for account_id in account_ids for kind in KINDS]


def _loads(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return None


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)
