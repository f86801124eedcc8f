"""Account records: the typed `Account` view and the `AccountStore` interface.

An account is one Google account in the Antigravity-Manager file format, so a
user can copy that app's ``accounts`` folder in. `Account` is a typed read-only
view built by `account_from_raw`; edits go through `AccountStore.update`, a
read-modify-write whose common edits (`set_token`, `disable`, `mark_forbidden`,
…) are pure functions of the dict in ``edits.py``. `AccountFiles` (``files.py``)
is the default store, one JSON file per account; `SharedMarks` (``marks.py``)
wraps any store to share the runtime marks across a group of boxes.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Protocol

from antigravity_proxy.accounts.quota import ModelQuota, models_from_raw
from antigravity_proxy.upstream.egress import ProxyUrlError, normalize_proxy_url

QUOTA_PROTECTION_REASON: Final = "quota_protection"
"""Legacy account-level quota protection: such an account still serves (§3.3)."""

# No leading dot (hidden/temp files); bounded so a file name never exceeds
# the filesystem's limit (an over-long id would be an OSError, not a clear error).
ID_PATTERN: Final = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9_.-]{0,127}")


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
    if not ID_PATTERN.fullmatch(account_id):
        raise ValueError(f"invalid account id {account_id!r}")
    return account_id


class AccountStore(Protocol):
    """What the gateway needs from a place that keeps accounts.

    ``get`` raises `AccountNotFound` or `AccountLoadError`; ``all`` skips (and
    logs) unreadable records. ``update`` is a serialised read-modify-write: the
    ``mutate`` callback edits the stored dict in place (see ``edits.py``) and the
    result is validated before it is kept.
    """

    def ids(self) -> list[str]: ...
    def get(self, account_id: str) -> Account: ...
    def all(self) -> list[Account]: ...
    def create(self, raw: Mapping[str, Any]) -> Account: ...
    def update(
        self, account_id: str, mutate: Callable[[dict[str, Any]], None]
    ) -> Account: ...
    def remove(self, account_id: str) -> None: ...
