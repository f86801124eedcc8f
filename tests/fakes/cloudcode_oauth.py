"""Accounts and Google OAuth state of the fake upstream: tokens, codes, refreshes.

``TokenBook`` owns every refresh token, access token and authorization code,
behind one lock, and answers the form-encoded ``POST /token`` and the
``GET /userinfo`` calls as ``(status, json)`` pairs.  Access tokens are
``ya29.fake-<n>``, valid for ``expires_in`` seconds of ``time.monotonic`` or until
``expire_all()``.  A rotating account gets a new refresh token on every refresh
and the old one stops working, as Google does for rotated credentials.  Refreshes
are counted per refresh token before the optional artificial delay, so a test
can see concurrent refreshes while they are still sleeping.
"""

from __future__ import annotations

import hashlib
import itertools
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

INVALID_GRANT = {
    "error": "invalid_grant",
    "error_description": "Token has been expired or revoked.",
}
BAD_CODE = {"error": "invalid_grant", "error_description": "Bad Request"}
Answer = tuple[int, dict[str, Any]]


@dataclass
class FakeAccount:
    """One Google account as the fake sees it; tests may mutate ``models``."""

    refresh_token: str
    email: str
    project: str | None
    tier: str | None = "Google AI Pro"
    models: dict[str, float] = field(default_factory=dict)
    rotate_refresh: bool = False
    refresh_delay: float = 0.0

    @property
    def name(self) -> str:
        """Display name derived from the e-mail's local part."""
        return self.email.split("@")[0].replace(".", " ").title()


@dataclass
class _Access:
    email: str
    expires_at: float
    expired: bool = False


class TokenBook:
    """Thread-safe store of accounts and the tokens issued to them.

    :param expires_in: lifetime of an access token, reported and enforced.
    :param clock: monotonic clock used for expiry.
    """

    def __init__(self, expires_in: int, clock: Callable[[], float] = time.monotonic):
        self.expires_in = expires_in
        self._clock = clock
        self._lock = threading.Lock()
        self._accounts: dict[str, FakeAccount] = {}
        self._access: dict[str, _Access] = {}
        self._codes: dict[str, str] = {}
        self._counts: Counter[str] = Counter()
        self._serial = itertools.count(1)

    def add(self, account: FakeAccount) -> None:
        """Register an account under its refresh token."""
        with self._lock:
            self._accounts[account.refresh_token] = account

    def revoke(self, refresh_token: str) -> None:
        """Make the refresh token answer invalid_grant from now on."""
        with self._lock:
            self._accounts.pop(refresh_token, None)

    def refresh_count(self, refresh_token: str) -> int:
        """Return how many refresh_token grants used this token."""
        with self._lock:
            return self._counts[refresh_token]

    def issue_auth_code(self, refresh_token: str) -> str:
        """Create a one-time authorization code that exchanges to this account."""
        with self._lock:
            code = f"4/fake-code-{next(self._serial)}"
            self._codes[code] = refresh_token
            return code

    def expire_all(self) -> None:
        """Expire every access token issued so far."""
        with self._lock:
            for access in self._access.values():
                access.expired = True

    def email_for(self, access_token: str) -> str | None:
        """Return the e-mail an access token was issued to, valid or not."""
        with self._lock:
            access = self._access.get(access_token)
            return None if access is None else access.email

    def account_for(self, access_token: str) -> FakeAccount | None:
        """Return the account of a valid, unexpired access token."""
        with self._lock:
            access = self._access.get(access_token)
            if access is None or access.expired or self._clock() >= access.expires_at:
                return None
            return self._by_email(access.email)

    def _by_email(self, email: str) -> FakeAccount | None:
        return next((a for a in self._accounts.values() if a.email == email), None)

    def email_for_refresh(self, refresh_token: str) -> str | None:
        """Return the e-mail of a live refresh token."""
        with self._lock:
            account = self._accounts.get(refresh_token)
            return None if account is None else account.email

    def refresh(self, refresh_token: str) -> Answer:
        """Answer a refresh_token grant (count, delay, then issue)."""
        with self._lock:
            self._counts[refresh_token] += 1
            account = self._accounts.get(refresh_token)
        if account is None:
            return 400, dict(INVALID_GRANT)
        time.sleep(account.refresh_delay)
        with self._lock:
            if self._accounts.get(refresh_token) is not account:
                return 400, dict(INVALID_GRANT)
            rotated = self._rotate(account) if account.rotate_refresh else None
            return 200, self._grant(account, rotated)

    def exchange(self, code: str) -> Answer:
        """Answer an authorization_code grant; codes work once."""
        with self._lock:
            account = self._accounts.get(self._codes.pop(code, ""))
            if account is None:
                return 400, dict(BAD_CODE)
            return 200, self._grant(account, account.refresh_token)

    def _rotate(self, account: FakeAccount) -> str:
        del self._accounts[account.refresh_token]
        account.refresh_token = f"1//fake-rotated-{next(self._serial)}"
        self._accounts[account.refresh_token] = account
        return account.refresh_token

    def _grant(self, account: FakeAccount, refresh_token: str | None) -> dict[str, Any]:
        token = f"ya29.fake-{next(self._serial)}"
        expires_at = self._clock() + self.expires_in
        self._access[token] = _Access(account.email, expires_at)
        body: dict[str, Any] = {
            "access_token": token,
            "expires_in": self.expires_in,
            "token_type": "Bearer",
            "scope": "https://www.googleapis.com/auth/cloud-platform openid",
        }
        if refresh_token is not None:
            body["refresh_token"] = refresh_token
        return body


def _client_error(
    form: Mapping[str, str], clients: Mapping[str, str] | None
) -> Answer | None:
    """Check client credentials the way Google's token endpoint does."""
    client_id, secret = form.get("client_id"), form.get("client_secret")
    if not client_id:
        return 400, {
            "error": "invalid_request",
            "error_description": "Could not determine client ID from request.",
        }
    if not secret:
        return 400, {
            "error": "invalid_request",
            "error_description": "client_secret is missing.",
        }
    if clients is not None and client_id not in clients:
        return 401, {
            "error": "invalid_client",
            "error_description": "The OAuth client was not found.",
        }
    if clients is not None and clients[client_id] != secret:
        return 401, {"error": "invalid_client", "error_description": "Unauthorized"}
    return None


def token_endpoint(
    book: TokenBook, form: Mapping[str, str], clients: Mapping[str, str] | None
) -> Answer:
    """Answer ``POST /token`` for refresh_token and authorization_code grants."""
    failure = _client_error(form, clients)
    if failure is not None:
        return failure
    grant = form.get("grant_type", "")
    if grant == "refresh_token":
        return book.refresh(form.get("refresh_token", ""))
    if grant == "authorization_code":
        return book.exchange(form.get("code", ""))
    return 400, {
        "error": "unsupported_grant_type",
        "error_description": f"Invalid grant_type: {grant}",
    }


def userinfo(account: FakeAccount) -> dict[str, Any]:
    """Build the ``/oauth2/v2/userinfo`` answer for an account."""
    given, _, family = account.name.partition(" ")
    return {
        "id": str(int(hashlib.sha256(account.email.encode()).hexdigest()[:15], 16)),
        "email": account.email,
        "verified_email": True,
        "name": account.name,
        "given_name": given,
        "family_name": family,
        "picture": "https://example.invalid/photo.png",
    }
