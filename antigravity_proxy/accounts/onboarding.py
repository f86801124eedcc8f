"""Turning a refresh token (or a copied account file) into a saved account.

Every network step runs before anything is written: a refresh token that Google
refuses leaves no file behind, and a saved account is always complete. Project
and quota are best effort (the pool resolves them later if they fail now).

When Google cannot be reached at all (``OAuthUnreachable``), ``try_refresh_token``
saves the token as a *pending* account (an ``@pending.invalid`` placeholder email,
an expired access token): the pool verifies it by refreshing on first use (a
refused token is then disabled with the reason), and ``complete_pending`` puts
the real email in once a refresh worked. Bulk adds report one ``Outcome`` per token.

``proxy_url`` (``accounts add/login --proxy-url``): every call made to onboard an
account (token refresh or code exchange, userinfo, loadCodeAssist, quota) leaves
through it, and the account is saved with it, pending accounts included, so its
later calls do too (``upstream/egress.py``). ``complete_pending`` uses the
account's own proxy.
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from antigravity_proxy.accounts import quota as quota_mod
from antigravity_proxy.accounts.edits import replace_token, set_proxy_url
from antigravity_proxy.accounts.oauth import (
    OAuthClient,
    OAuthError,
    OAuthUnreachable,
    TokenGrant,
)
from antigravity_proxy.accounts.store import (
    Account,
    AccountLoadError,
    AccountStore,
    account_from_raw,
)
from antigravity_proxy.errors import GatewayError
from antigravity_proxy.upstream.cloudcode import CloudCodeClient
from antigravity_proxy.upstream.egress import egress_session

log = logging.getLogger(__name__)


PENDING_DOMAIN: Final = "pending.invalid"


class ImportFailed(ValueError):
    """The import source is not something we can read; nothing was written."""


@dataclass(frozen=True, slots=True)
class Outcome:
    """What happened to one token of a (bulk) add.

    :param label: which token, without the token (``line 2 of tokens.txt``).
    :param account: the saved account; ``None`` when nothing was saved.
    :param problem: why it failed, or (with an account) why it is unverified.
    """

    label: str
    account: Account | None
    problem: str | None = None

    @property
    def pending(self) -> bool:
        return self.account is not None and self.problem is not None


def is_pending(account: Account) -> bool:
    """Saved while Google was unreachable; its email is not known yet."""
    return account.email.endswith("@" + PENDING_DOMAIN)


def pending_email(refresh_token: str) -> str:
    digest = hashlib.sha256(refresh_token.encode("utf-8")).hexdigest()[:12]
    return f"unverified-{digest}@{PENDING_DOMAIN}"


class Onboarding:
    def __init__(
        self,
        store: AccountStore,
        oauth: OAuthClient,
        upstream: CloudCodeClient,
        *,
        proxy_url: str = "",
    ) -> None:
        self.store = store
        self.oauth = oauth
        self.upstream = upstream
        self.proxy_url = proxy_url

    def add_refresh_token(self, refresh_token: str) -> Account:
        """Refresh, read the email, resolve project and quota, then save once."""
        with egress_session(self.proxy_url) as session:
            grant = self.oauth.refresh(session, refresh_token)
            info = self.oauth.userinfo(session, grant.access_token)
        if not isinstance(info.get("email"), str):
            raise OAuthError("Google did not return the account's email")
        grant = TokenGrant(
            grant.access_token,
            grant.expires_in,
            grant.refresh_token or refresh_token,
            grant.id_token,
        )
        return self._save(self._raw_account(grant, info))

    def try_refresh_token(self, label: str, refresh_token: str) -> Outcome:
        """``add_refresh_token``, or a pending account while Google is unreachable."""
        try:
            return Outcome(label, self.add_refresh_token(refresh_token))
        except OAuthUnreachable as exc:
            raw = pending_raw(refresh_token, int(time.time()))
            set_proxy_url(raw, self.proxy_url)
            account = self.store.create(raw)
            return Outcome(label, account, f"Google unreachable ({exc})")
        except (OAuthError, AccountLoadError, OSError) as exc:
            return Outcome(label, None, str(exc))

    def complete_pending(self, account: Account) -> Account:
        """Give a pending account, whose token now works, its real email.

        An account already saved under that email takes the token instead, and
        the pending file goes (one Google account, one file).
        """
        with egress_session(account.proxy_url) as session:
            info = self.oauth.userinfo(session, account.access_token)
        email = info.get("email")
        if not isinstance(email, str) or not email:
            return account
        token = {"refresh_token": account.refresh_token, "email": email}
        twin = next((a for a in self.store.all() if a.email == email), None)
        if twin is not None:
            merged = self.store.update(twin.id, lambda raw: replace_token(raw, token))
            self.store.remove(account.id)
            return merged

        def mutate(raw: dict[str, Any]) -> None:
            raw.update(email=email, name=info.get("name") or email)
            raw.pop("pending_verification", None)
            replace_token(raw, token)

        return self.store.update(account.id, mutate)

    def add_grant(self, grant: TokenGrant) -> Account:
        with egress_session(self.proxy_url) as session:
            info = self.oauth.userinfo(session, grant.access_token)
        if not isinstance(info.get("email"), str):
            raise OAuthError("Google did not return the account's email")
        return self._save(self._raw_account(grant, info))

    def _save(self, raw: dict[str, Any]) -> Account:
        """Create the account; a known email gets the new token and this proxy."""
        account = self.store.create(raw)
        proxy_url = self.proxy_url
        if proxy_url and account.proxy_url != proxy_url:
            account = self.store.update(
                account.id, lambda current: set_proxy_url(current, proxy_url)
            )
        return account

    def import_path(self, path: Path) -> list[Outcome]:
        """An Antigravity-Manager data dir, its accounts folder, or a token list.

        Account files are all checked before any is saved; tokens are added one
        by one, each with its own outcome.
        """
        if path.is_dir():
            folder = path / "accounts" if (path / "accounts").is_dir() else path
            return [
                Outcome(name, self.store.create(raw))
                for name, raw in _account_files(folder)
            ]
        tokens = _token_list(path)
        return [
            self.try_refresh_token(f"entry {n} of {path.name}", token)
            for n, token in enumerate(tokens, 1)
        ]

    def _raw_account(
        self, grant: TokenGrant, info: Mapping[str, Any]
    ) -> dict[str, Any]:
        now = int(time.time())
        project, tier = self._project_and_tier(grant.access_token)
        raw: dict[str, Any] = {
            "email": info["email"],
            "name": info.get("name") or info["email"],
            "token": {
                "access_token": grant.access_token,
                "refresh_token": grant.refresh_token,
                "expires_in": grant.expires_in,
                "expiry_timestamp": now + grant.expires_in,
                "token_type": "Bearer",
                "email": info["email"],
                "project_id": project or "",
            },
            "disabled": False,
            "proxy_disabled": False,
            "created_at": now,
            "last_used": now,
        }
        quota = self._quota(grant.access_token, project, now)
        if quota is not None or tier:
            raw["quota"] = {**(quota or {}), "subscription_tier": tier}
        set_proxy_url(raw, self.proxy_url)
        return raw

    def _project_and_tier(self, access_token: str) -> tuple[str | None, str | None]:
        body = {"metadata": {"ideType": "ANTIGRAVITY"}}
        try:
            answer = self.upstream.call_json(
                "loadCodeAssist", body, access_token, proxy_url=self.proxy_url
            )
        except GatewayError as exc:
            log.warning(
                "loadCodeAssist failed (%s); the project is resolved later", exc
            )
            return None, None
        return quota_mod.parse_load_code_assist(answer)

    def _quota(
        self, access_token: str, project: str | None, now: int
    ) -> dict[str, Any] | None:
        body = {"project": project} if project else {}
        try:
            answer = self.upstream.call_json(
                "fetchAvailableModels", body, access_token, proxy_url=self.proxy_url
            )
        except GatewayError as exc:
            log.warning("fetchAvailableModels failed (%s); quota is fetched later", exc)
            return None
        snapshot = quota_mod.parse_available_models(answer)
        return quota_mod.quota_to_raw(snapshot, None, now)


def pending_raw(refresh_token: str, now: int) -> dict[str, Any]:
    """The account file saved for a token Google could not be asked about."""
    email = pending_email(refresh_token)
    return {
        "email": email,
        "name": "unverified account",
        "token": {
            "access_token": "unverified",
            "refresh_token": refresh_token,
            "expires_in": 0,
            "expiry_timestamp": 0,
            "token_type": "Bearer",
            "email": email,
            "project_id": "",
        },
        "disabled": False,
        "proxy_disabled": False,
        "pending_verification": True,
        "created_at": now,
        "last_used": now,
    }


def _account_files(folder: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    files = sorted(folder.glob("*.json"))
    if not files:
        raise ImportFailed(f"{folder}: no account files (*.json) found")
    checked: list[tuple[str, dict[str, Any]]] = []
    for file in files:
        try:
            raw = json.loads(file.read_text(encoding="utf-8"))
            account_from_raw(raw, source=file.name)
        except (OSError, ValueError, AccountLoadError) as exc:
            raise ImportFailed(f"{file}: not an account file: {exc}") from exc
        checked.append((file.name, copy.deepcopy(raw)))
    yield from checked


def _token_list(path: Path) -> list[str]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ImportFailed(
            f"{path}: expected a JSON list of refresh tokens: {exc}"
        ) from exc
    if not isinstance(data, list) or not data:
        raise ImportFailed(f"{path}: expected a non-empty JSON list of refresh tokens")
    tokens = [_token_of(item) for item in data]
    if not all(tokens):
        raise ImportFailed(f"{path}: every entry must be a token or have refresh_token")
    return [t for t in tokens if t]


def _token_of(item: Any) -> str | None:
    if isinstance(item, str) and item.strip():
        return item.strip()
    if isinstance(item, dict) and isinstance(item.get("refresh_token"), str):
        return str(item["refresh_token"])
    return None
