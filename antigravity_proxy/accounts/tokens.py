"""Access-token refresh, once per account across every worker and every box.

A token about to expire (or answered 401) is first looked for in the store, which
with ``SharedMarks`` shows the token another box already refreshed. Otherwise the
refresh runs under a named lease in the shared state (``token-refresh:<id>``), so
only one box calls Google for an account at a time; the others poll the store
briefly and reuse the new token. The lease is named after the token being
replaced, so it needs no release. A holder that is slow costs at most
``WAIT_SECONDS`` before the waiter refreshes by itself, and a state backend that
is down (which grants no lease) costs no wait at all: a duplicate refresh is
harmless, a failed request is not. Inside one box the account file's lock still
serialises the refresh, and the file stays the source of the refresh token.
"""

from __future__ import annotations

import dataclasses
import hashlib
import time
from collections.abc import Callable
from typing import Any, Final

from antigravity_proxy.accounts.edits import set_token
from antigravity_proxy.accounts.oauth import OAuthClient
from antigravity_proxy.accounts.store import Account, AccountStore
from antigravity_proxy.state import SharedState
from antigravity_proxy.upstream.egress import egress_session

REFRESH_MARGIN: Final = 90
"""Seconds before expiry at which a token counts as stale."""
LEASE_SECONDS: Final = 30.0
WAIT_SECONDS: Final = 3.0
POLL_SECONDS: Final = 0.05


def is_fresh(account: Account, now: float, stale: Account | None = None) -> bool:
    """Whether ``account``'s token can serve at ``now`` and is not the ``stale`` one.

    ``stale`` is the account as it was when its token was answered 401: only a
    different token issued no earlier counts (pure).
    """
    if now >= account.expiry_timestamp - REFRESH_MARGIN:
        return False
    if stale is None:
        return True
    return (
        account.access_token != stale.access_token
        and account.expiry_timestamp >= stale.expiry_timestamp
    )


def lease_name(account: Account) -> str:
    """The lease for replacing ``account``'s current token.

    Why the token's fingerprint in the name: once replaced, the next refresh
    (a 401 a minute later) needs no wait for this lease to expire, and there is
    no release to forget. A digest, so the token itself is never a key.
    """
    digest = hashlib.sha256(account.access_token.encode("utf-8")).hexdigest()
    return f"token-refresh:{account.id}:{digest[:16]}"


class TokenRefresh:
    """Fresh tokens for the pool; see the module docstring for the protocol.

    :param sleep: and ``monotonic`` are injected so tests need not wait.
    """

    def __init__(
        self,
        store: AccountStore,
        state: SharedState,
        oauth: OAuthClient,
        *,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.store = store
        self.state = state
        self.oauth = oauth
        self.clock = clock
        self.monotonic = monotonic
        self.sleep = sleep

    def refresh(self, account: Account, *, force: bool) -> Account:
        """``account`` with a token fresh at ``clock()``; ``force`` replaces its own.

        Raises ``OAuthError`` (``InvalidGrant`` included) from Google.
        """
        stale = account if force else None
        deadline = self.monotonic() + WAIT_SECONDS
        while True:
            current = self.store.get(account.id)
            if is_fresh(current, self.clock(), stale):
                return current
            if self.state.claim(lease_name(current), LEASE_SECONDS):
                return self._refresh_here(current, stale)
            if self.monotonic() >= deadline or not self.state.health().ok:
                return self._refresh_here(current, stale)
            self.sleep(POLL_SECONDS)

    def _refresh_here(self, account: Account, stale: Account | None) -> Account:
        """Refresh inside the file lock; a worker that waited finds it fresh."""
        session = egress_session(account.proxy_url)

        def mutate(raw: dict[str, Any]) -> None:
            if is_fresh(_token_view(account, raw), self.clock(), stale):
                return
            token = raw.get("token") or {}
            grant = self.oauth.refresh(session, str(token.get("refresh_token", "")))
            set_token(
                raw,
                grant.access_token,
                grant.expires_in,
                int(self.clock()),
                refresh_token=grant.refresh_token,
                id_token=grant.id_token,
            )

        with session:
            return self.store.update(account.id, mutate)


def _token_view(account: Account, raw: dict[str, Any]) -> Account:
    """``account`` with the token the file holds now (another worker's refresh)."""
    token = raw.get("token")
    token = token if isinstance(token, dict) else {}
    access, expiry = token.get("access_token"), token.get("expiry_timestamp")
    if not isinstance(access, str) or not isinstance(expiry, int):
        return dataclasses.replace(account, expiry_timestamp=0)
    return dataclasses.replace(account, access_token=access, expiry_timestamp=expiry)
