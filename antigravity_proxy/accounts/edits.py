"""The common edits of an account file: pure functions of its parsed dict.

``AccountStore.update`` applies them under the file's lock; keeping them apart
from the store keeps the file I/O in one module and these rules in another. Each
edits only the fields it names, so fields this gateway does not use (the rest of
the Antigravity-Manager format) survive every rewrite.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any, Final

MAX_REASON_BYTES: Final = 800
"""Reasons are upstream bodies; long ones are cut so files stay small."""

_CLEARED_ON_ENABLE: Final = ("disabled_reason", "disabled_at", "proxy_disabled_reason")
_CLEARED_ON_ENABLE_TOO: Final = ("proxy_disabled_at", "validation_blocked_until")


def set_token(
    raw: dict[str, Any],
    access_token: str,
    expires_in: int,
    now: int,
    *,
    refresh_token: str | None = None,
    id_token: str | None = None,
) -> None:
    """Store a refreshed access token; the refresh/id tokens only when rotated."""
    token = _object(raw, "token")
    token.update(access_token=access_token, expires_in=expires_in)
    token["expiry_timestamp"] = now + expires_in
    rotated = {"refresh_token": refresh_token, "id_token": id_token}
    token.update({key: value for key, value in rotated.items() if value is not None})


def set_proxy_url(raw: dict[str, Any], proxy_url: str) -> None:
    """Route the account's calls through ``proxy_url``; ``""`` removes the field."""
    if proxy_url:
        raw["proxy_url"] = proxy_url
    else:
        raw.pop("proxy_url", None)


def replace_token(raw: dict[str, Any], token: Mapping[str, Any]) -> None:
    """Merge a new login's token in; re-enable an account disabled by invalid_grant."""
    # invalid_grant means the old refresh token died: a new login is the fix.
    _object(raw, "token").update(copy.deepcopy(dict(token)))
    reason = raw.get("disabled_reason")
    if isinstance(reason, str) and reason.startswith("invalid_grant"):
        raw.update(disabled=False, disabled_reason=None, disabled_at=None)


def disable(raw: dict[str, Any], reason: str, now: int) -> None:
    """Disable the account (e.g. ``invalid_grant: …`` after a failed refresh)."""
    message = truncate_utf8(reason, MAX_REASON_BYTES)
    raw.update(disabled=True, disabled_reason=message, disabled_at=now)


def mark_forbidden(raw: dict[str, Any], reason: str, now: int) -> None:
    """Take a 403-answering account out of the pool until a user re-enables it."""
    reason = truncate_utf8(reason, MAX_REASON_BYTES)
    _object(raw, "quota").update(is_forbidden=True, forbidden_reason=reason)
    message = truncate_utf8(f"Forbidden (403): {reason}", MAX_REASON_BYTES)
    raw.update(
        proxy_disabled=True, proxy_disabled_reason=message, proxy_disabled_at=now
    )


def set_enabled(raw: dict[str, Any], enabled: bool, *, now: int | None = None) -> None:
    """Enable (clearing every disable, forbidden and validation mark) or disable.

    Disabling is the user's switch, ``proxy_disabled`` with reason ``manual``;
    ``disabled`` is left to the token lifecycle (`disable`).
    """
    if not enabled:
        raw.update(
            proxy_disabled=True, proxy_disabled_reason="manual", proxy_disabled_at=now
        )
        return
    raw.update(disabled=False, proxy_disabled=False, validation_blocked=False)
    raw.update(dict.fromkeys(_CLEARED_ON_ENABLE + _CLEARED_ON_ENABLE_TOO))
    quota = raw.get("quota")
    if isinstance(quota, dict):
        quota.update(is_forbidden=False, forbidden_reason=None)


def set_project(raw: dict[str, Any], project_id: str) -> None:
    """Remember the Cloud Code project resolved by ``loadCodeAssist``."""
    _object(raw, "token")["project_id"] = project_id


def set_quota(raw: dict[str, Any], quota: Mapping[str, Any]) -> None:
    """Replace the ``quota`` object (built by ``quota.quota_to_raw``)."""
    raw["quota"] = copy.deepcopy(dict(quota))


def truncate_utf8(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` UTF-8 bytes, never mid-character."""
    encoded = text.encode("utf-8")
    if len(encoded) <= limit:
        return text
    return encoded[:limit].decode("utf-8", errors="ignore")


def _object(raw: dict[str, Any], name: str) -> dict[str, Any]:
    value = raw.get(name)
    if not isinstance(value, dict):
        value = raw[name] = {}
    return value
