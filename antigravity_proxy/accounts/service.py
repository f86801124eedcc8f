"""The account pool at run time: choose an account, make it ready, learn from errors.

``acquire`` picks an account for a model (pure ranking from ``pool.py`` over the
files in ``store.py`` and the cooldowns in the shared state), then makes sure it
has a fresh access token and a project. Token refresh (``tokens.py``) runs under a
lease in the shared state and inside the account file's lock, so one refresh per
account happens at a time across every thread, worker and box; whoever waited
finds the new token.
``report_failure`` turns an upstream error into a cooldown, a forbidden mark or
a disabled account, and says whether to try another account; what each status
blames is the table in ``blame.py``. ``blame`` rests an account whose failure
only became its own once another account served the same request.
"""

from __future__ import annotations

import enum
import logging
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from antigravity_proxy.accounts import quota as quota_mod
from antigravity_proxy.accounts.blame import Blame, status_rule
from antigravity_proxy.accounts.cooldown import (
    Reason,
    Records,
    cooldown_from_error,
    cooldown_key,
    live_records,
    resting_until,
    seconds_left,
)
from antigravity_proxy.accounts.edits import (
    disable,
    mark_forbidden,
    set_project,
    set_quota,
)
from antigravity_proxy.accounts.oauth import InvalidGrant, OAuthClient, OAuthError
from antigravity_proxy.accounts.pool import Candidate, choose
from antigravity_proxy.accounts.store import Account, AccountLoadError, AccountStore
from antigravity_proxy.accounts.tokens import TokenRefresh, is_fresh
from antigravity_proxy.config import Config
from antigravity_proxy.errors import (
    GatewayError,
    Overloaded,
    RateLimited,
    SetupRequired,
    UpstreamStatus,
)
from antigravity_proxy.state import SharedState
from antigravity_proxy.upstream.cloudcode import CloudCodeClient

log = logging.getLogger(__name__)

NO_ACCOUNTS: Final = (
    'no Google account is configured: run "antigravity-proxy accounts login"'
)


class Verdict(enum.Enum):
    """What the caller should do after an upstream error."""

    ROTATE = "rotate"  # try another account
    RETRY = "retry"  # same account again (its token was refreshed)
    BACKOFF = "backoff"  # wait a little, then any account
    SUSPECT = "suspect"  # another account; blame this one only if that one serves
    FAIL = "fail"  # the request itself is wrong: answer the client


_VERDICT: Final[Mapping[Blame, Verdict]] = {
    Blame.REQUEST: Verdict.FAIL,
    Blame.ACCOUNT: Verdict.ROTATE,
    Blame.MODEL: Verdict.ROTATE,
    Blame.SERVICE: Verdict.BACKOFF,
    Blame.UNSURE: Verdict.SUSPECT,
}


@dataclass(frozen=True, slots=True)
class Lease:
    """An account ready to call the upstream with."""

    account: Account
    access_token: str
    project: str

    @property
    def proxy_url(self) -> str:
        """The account's egress proxy; every call on this lease goes through it."""
        return self.account.proxy_url


class AccountPool:
    def __init__(
        self,
        config: Config,
        store: AccountStore,
        state: SharedState,
        upstream: CloudCodeClient,
        *,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
    ) -> None:
        self.config = config
        self.store = store
        self.state = state
        self.upstream = upstream
        self.oauth = OAuthClient.from_config(config)
        self.tokens = TokenRefresh(store, state, self.oauth, clock=clock)
        self.clock = clock
        self.rng = rng or random.Random()
        self._fallback_logged: set[str] = set()
        self._quota_tried: set[str] = set()

    def acquire(
        self,
        model: str,
        *,
        session: str | None = None,
        excluded: frozenset[str] = frozenset(),
    ) -> Lease:
        """An account for ``model``, ready to use; never one in ``excluded``.

        When none is left, the error names why the last one tried could not be
        made ready (its token refresh failed), so the client hears the cause.
        """
        sticky = self.state.sticky_account(session) if session else None
        failed: str | None = None
        while True:
            try:
                account = self._choose(model, sticky, excluded)
            except GatewayError as err:
                raise _with_cause(err, failed) from None
            try:
                lease = self._prepare(account)
            except InvalidGrant as exc:
                self._disable(account, f"invalid_grant: {exc}")
                failed = f"account {account.id}: refresh token rejected ({exc})"
                excluded = excluded | {account.id}
                continue
            except OAuthError as exc:
                log.warning("account %s: token refresh failed: %s", account.id, exc)
                failed = f"account {account.id}: token refresh failed ({exc})"
                excluded = excluded | {account.id}
                continue
            if session and account.id != sticky:
                self.state.bind_sticky(session, account.id)
            return lease

    def report_success(self, lease: Lease) -> None:
        """Reset the account's consecutive-failure count, if it has one.

        The pool view says which accounts have one (``state.POOL_VIEW_SECONDS``
        old at most, and fresh after this worker's own failures), so a success
        costs the store no write; one within that bound after another box's
        failure may leave that count standing, to be reset by the next success.
        """
        account = lease.account.id
        if account in self.state.pool_view().failing:
            self.state.reset_failures(account)

    def report_failure(self, lease: Lease, model: str, err: UpstreamStatus) -> Verdict:
        """Record what the error proves (``blame.STATUS_RULES``); say what next."""
        rule = status_rule(err.upstream_status)
        account = lease.account
        if rule.blame is Blame.TOKEN:
            return Verdict.RETRY if self._force_refresh(account) else Verdict.ROTATE
        if rule.blame is Blame.ACCOUNT:
            self.store.update(
                account.id, lambda raw: mark_forbidden(raw, err.body, self._now())
            )
            log.warning("account %s is forbidden (403); marked on disk", account.id)
        if rule.rests_now:
            self._cool_down(account, model, err)
        return _VERDICT[rule.blame]

    def blame(self, lease: Lease, model: str, err: UpstreamStatus) -> None:
        """Rest ``lease``'s account for ``model`` after a `Verdict.SUSPECT` failure
        that another account has since served: the failure was the account's."""
        if status_rule(err.upstream_status).rests_if_another_serves:
            self._cool_down(lease.account, model, err)

    def lease_for(self, account_id: str) -> Lease:
        """A ready lease on the named account, bypassing selection (warm-up).

        Raises ``AccountNotFound``, or ``OAuthError`` when the token cannot be
        refreshed; an ``invalid_grant`` also disables the account, as in ``acquire``.
        """
        account = self.store.get(account_id)
        try:
            return self._ready(account)
        except InvalidGrant as exc:
            self._disable(account, f"invalid_grant: {exc}")
            raise

    def forget_session(self, session: str | None) -> None:
        if session:
            self.state.unbind_sticky(session)

    def refresh_quota(self, account: Account) -> Account:
        """``fetchAvailableModels`` into the account file (quota per model)."""
        try:
            lease = self._ready(account)
        except InvalidGrant as exc:
            self._disable(account, f"invalid_grant: {exc}")
            raise
        body: dict[str, Any] = {"project": lease.project} if lease.project else {}
        answer = self.upstream.call_json(
            "fetchAvailableModels",
            body,
            lease.access_token,
            proxy_url=lease.proxy_url,
        )
        snapshot = quota_mod.parse_available_models(answer)
        now = self._now()
        return self.store.update(
            account.id,
            lambda raw: set_quota(
                raw, quota_mod.quota_to_raw(snapshot, raw.get("quota"), now)
            ),
        )

    def available_count(self, model: str) -> int:
        """How many accounts could serve ``model`` now: usable, not cooling down.

        Why: z.ai dispatch (``zai_dispatch``) falls back to z.ai at 0, and its
        ``pooled`` mode rotates over these accounts plus z.ai.
        """
        group = quota_mod.model_group(model) or model
        records = self._cooldowns()
        ids = [a.id for a in self.store.all() if a.usable(self.clock())]
        return sum(1 for a in ids if resting_until(a, group, records) is None)

    def seconds_until_free(self, model: str) -> int | None:
        """How long until the first cooling account can serve ``model`` again."""
        group = quota_mod.model_group(model) or model
        records = self._cooldowns()
        ends = [resting_until(a.id, group, records) for a in self.store.all()]
        known = [end for end in ends if end is not None]
        return seconds_left(min(known), self.clock()) if known else None

    def _choose(
        self, model: str, sticky: str | None, excluded: frozenset[str]
    ) -> Account:
        now = self.clock()
        accounts = {a.id: a for a in self.store.all() if a.usable(now)}
        if not accounts:
            raise SetupRequired(self._why_empty())
        group = quota_mod.model_group(model) or model
        cooldowns = self._cooldowns()
        cooling = {a for a in accounts if resting_until(a, group, cooldowns)}
        candidates = [self._candidate(a, model) for a in accounts.values()]
        chosen = choose(
            candidates, excluded=excluded, cooling=cooling, sticky=sticky, rng=self.rng
        )
        if chosen is None:
            raise self._exhausted(accounts, cooling, cooldowns, group, excluded)
        return accounts[chosen]

    def _candidate(self, account: Account, model: str) -> Candidate:
        found = quota_mod.quota_for_model(account.quota_models, model)
        return Candidate(
            id=account.id,
            tier=account.tier,
            model_quota=found.percentage if found else None,
            reset_time=quota_mod.reset_timestamp(found.reset_time) if found else None,
        )

    def _why_empty(self) -> str:
        if not self.store.ids():
            return NO_ACCOUNTS
        return (
            "every Google account is disabled or forbidden: "
            'see "antigravity-proxy accounts list" and "accounts enable ID"'
        )

    def _exhausted(
        self,
        accounts: dict[str, Account],
        cooling: set[str],
        cooldowns: Records,
        group: str,
        excluded: frozenset[str],
    ) -> GatewayError:
        waiting = [a for a in accounts if a in cooling and a not in excluded]
        if not waiting:
            return Overloaded(
                f"all {len(accounts)} usable accounts failed this request"
            )
        until = {a: resting_until(a, group, cooldowns) or 0.0 for a in waiting}
        retry_after = seconds_left(min(until.values()), self.clock())
        listed = ", ".join(f"{a} until {_utc(t)}" for a, t in sorted(until.items()))
        return RateLimited(
            f"every account is cooling down for {group}: {listed}",
            retry_after=retry_after,
        )

    def _prepare(self, account: Account) -> Lease:
        lease = self._ready(account)
        if not lease.account.quota_last_updated and account.id not in self._quota_tried:
            self._quota_tried.add(account.id)
            lease = Lease(
                self._first_quota(lease.account), lease.access_token, lease.project
            )
        return lease

    def _ready(self, account: Account) -> Lease:
        """A fresh token and a project; quota data is not needed to serve."""
        if not is_fresh(account, self.clock()):
            account = self._refresh(account, force=False)
        if not account.project_id:
            account = self._resolve_project(account)
        project = account.project_id or self.config.upstream.fallback_project
        return Lease(account, account.access_token, project)

    def _refresh(self, account: Account, *, force: bool) -> Account:
        return self.tokens.refresh(account, force=force)

    def _force_refresh(self, account: Account) -> bool:
        try:
            self._refresh(account, force=True)
        except InvalidGrant as exc:
            self._disable(account, f"invalid_grant: {exc}")
            return False
        except OAuthError as exc:
            log.warning("account %s: refresh after 401 failed: %s", account.id, exc)
            return False
        return True

    def _resolve_project(self, account: Account) -> Account:
        body = {"metadata": {"ideType": "ANTIGRAVITY"}}
        try:
            answer = self.upstream.call_json(
                "loadCodeAssist",
                body,
                account.access_token,
                proxy_url=account.proxy_url,
            )
        except GatewayError as exc:
            log.warning(
                "account %s: loadCodeAssist failed: %s", account.id, exc.message
            )
            answer = {}
        project, tier = quota_mod.parse_load_code_assist(answer)
        if not project:
            if account.id not in self._fallback_logged:
                self._fallback_logged.add(account.id)
                log.warning(
                    "account %s: no project from loadCodeAssist; using fallback %s",
                    account.id,
                    self.config.upstream.fallback_project,
                )
            return account

        def mutate(raw: dict[str, Any]) -> None:
            set_project(raw, project)
            if tier:
                raw.setdefault("quota", {})["subscription_tier"] = tier

        return self.store.update(account.id, mutate)

    def _first_quota(self, account: Account) -> Account:
        try:
            return self.refresh_quota(account)
        except (GatewayError, AccountLoadError) as exc:
            log.warning("account %s: quota fetch failed: %s", account.id, exc)
            return account

    def _cool_down(self, account: Account, model: str, err: UpstreamStatus) -> None:
        failures = (
            self.state.record_failure(account.id) if err.upstream_status == 429 else 0
        )
        cooldown = cooldown_from_error(
            err.upstream_status,
            err.headers,
            err.body,
            failures=max(0, failures - 1),
            max_seconds=self.config.accounts.max_cooldown_seconds,
            now=self.clock(),
        )
        if cooldown is None:
            return
        group = quota_mod.model_group(model) or model
        key = cooldown_key(account.id, group, cooldown.scope)
        self.state.set_cooldown(
            key, self.clock() + cooldown.seconds, cooldown.reason.value
        )
        if cooldown.reason is Reason.QUOTA_EXHAUSTED:
            log.info(
                "account %s: %s quota exhausted for %.0fs",
                account.id,
                group,
                cooldown.seconds,
            )

    def _disable(self, account: Account, reason: str) -> None:
        log.warning(
            "account %s disabled: refresh token rejected (invalid_grant)", account.id
        )
        self.store.update(account.id, lambda raw: disable(raw, reason, self._now()))

    def _now(self) -> int:
        return int(self.clock())

    def _cooldowns(self) -> dict[str, tuple[float, str]]:
        cap = self.config.accounts.max_cooldown_seconds
        return live_records(self.state.pool_view().cooldowns, self.clock(), cap)


def _with_cause(err: GatewayError, cause: str | None) -> GatewayError:
    """``err`` with the last account's failure appended to its message."""
    if cause is not None:
        err.message = f"{err.message}; last failure: {cause}"
        err.args = (err.message,)
    return err


def _utc(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%H:%M:%SZ")
