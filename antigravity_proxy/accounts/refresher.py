"""Background quota refresh: every ``accounts.quota_refresh_minutes``, once per box.

Each gunicorn worker runs this daemon thread, but a named lease in the shared
state lets only one of them do the work per interval. A failure for one account
is logged and does not stop the others.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Final

from antigravity_proxy.accounts.oauth import OAuthError
from antigravity_proxy.accounts.onboarding import Onboarding, is_pending
from antigravity_proxy.accounts.service import AccountPool
from antigravity_proxy.accounts.store import Account, AccountLoadError, AccountNotFound
from antigravity_proxy.errors import GatewayError

log = logging.getLogger(__name__)

LEASE: Final = "quota-refresh"
FILL_LEASE: Final = "quota-fill"
FILL_LEASE_SECONDS: Final = 60.0
POLL_SECONDS: Final = 30.0
ACCOUNT_FAILURES: Final = (
    GatewayError,
    OAuthError,
    AccountLoadError,  # a file edited by hand mid-round
    AccountNotFound,  # a file removed mid-round
    OSError,
)


class QuotaRefresher:
    def __init__(self, pool: AccountPool, interval_minutes: float) -> None:
        self.pool = pool
        self.interval = interval_minutes * 60
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name="quota-refresh", daemon=True
        )

    def start(self) -> None:
        if self.interval > 0:
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def run_once(self) -> int:
        """Refresh every usable account if this process holds the lease."""
        if not self.pool.state.claim(LEASE, self.interval):
            return 0
        return self._refresh(lambda account: True)

    def fill_missing(self) -> int:
        """At start-up: accounts copied in without quota data get it now.

        Why: ranking prefers accounts whose tier and quota are known, so an
        account without data would wait for the first periodic round.
        """
        if not self.pool.state.claim(FILL_LEASE, FILL_LEASE_SECONDS):
            return 0
        return self._refresh(lambda account: not account.quota_last_updated)

    def _refresh(self, wanted: Callable[[Account], bool]) -> int:
        """Fetch quota for each usable, wanted account; one failure stops none."""
        done = 0
        for account in self.pool.store.all():
            if not wanted(account) or not account.usable(time.time()):
                continue
            try:
                updated = self.pool.refresh_quota(account)
                if is_pending(updated):  # saved while Google was unreachable
                    pool = self.pool
                    onboarding = Onboarding(pool.store, pool.oauth, pool.upstream)
                    onboarding.complete_pending(updated)
                done += 1
            except ACCOUNT_FAILURES as exc:
                log.warning("quota fetch for account %s failed: %s", account.id, exc)
        return done

    def _run(self) -> None:
        try:
            self.fill_missing()
        except Exception:
            log.exception("start-up quota fetch failed")
        while not self._stop.wait(min(POLL_SECONDS, self.interval)):
            try:
                self.run_once()
            except Exception:  # a bug here must not kill the thread silently
                log.exception("quota refresh round failed")
