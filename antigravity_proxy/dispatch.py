"""One upstream generation call, with account rotation: the retry policy lives here.

``send`` picks an account, wraps the translated Gemini request in the envelope for
that account, and calls Cloud Code. What each error status blames, and so what
happens next, is the table in ``accounts/blame.py``: an account's failure (403,
429) moves on to another account; 401 refreshes the token and retries the same
account once (a second 401 there moves on); 503/529 back off briefly; a status the
request can provoke (404, 500) asks another account and blames the first only if
that one serves it, and a second 404 answers the client at once (the model is
unknown, not the account). At most ``accounts.max_attempts`` calls in all, and
all of them happen before the client has seen a byte: ``send`` returns an open,
2xx upstream response, or raises the error the client should see.

Every call is noted in the request's ``Exchange`` (account, base URL, status,
what the pool decided, how long it took), and none is made once the client has
gone. A 2xx is not yet a success for the account: ``settle`` reports the
outcome once the answer has been read, so a stream the upstream cuts off counts
against the account as an error status would.
"""

from __future__ import annotations

import dataclasses
import logging
import re
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import requests

from antigravity_proxy.accounts.blame import status_rule
from antigravity_proxy.accounts.oauth import OAuthError
from antigravity_proxy.accounts.service import AccountPool, Lease, Verdict
from antigravity_proxy.accounts.store import AccountLoadError, AccountNotFound
from antigravity_proxy.errors import (
    ClientGone,
    GatewayError,
    NotFoundError,
    Overloaded,
    RateLimited,
    UpstreamError,
    UpstreamStatus,
)
from antigravity_proxy.exchange import Attempt, Exchange
from antigravity_proxy.upstream.cloudcode import CloudCodeClient, base_of
from antigravity_proxy.upstream.envelope import (
    account_session_id,
    wrap_count_tokens,
    wrap_request,
)

log = logging.getLogger(__name__)
_EMAIL: Final = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")

BACKOFF_BASE: Final = 0.5
BACKOFF_CAP: Final = 4.0


@dataclass(frozen=True, slots=True)
class UpstreamRequest:
    """A translated request, not yet bound to an account."""

    method: str
    model: str
    inner: Mapping[str, Any]
    stream: bool = True
    session: str | None = None
    request_type: str = "agent"
    extra_headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Sent:
    response: requests.Response
    lease: Lease
    model: str = ""


@dataclass(slots=True)
class _Tries:
    """What one ``send`` has learnt so far, across its attempts."""

    excluded: frozenset[str] = frozenset()
    refreshed: set[str] = field(default_factory=set)
    pinned: str | None = None
    last: UpstreamStatus | None = None
    egress: UpstreamError | None = None
    suspects: list[tuple[Lease, UpstreamStatus]] = field(default_factory=list)


class Dispatcher:
    def __init__(
        self,
        pool: AccountPool,
        upstream: CloudCodeClient,
        max_attempts: int,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.pool = pool
        self.upstream = upstream
        self.max_attempts = max_attempts
        self.sleep = sleep

    def send(self, request: UpstreamRequest, exchange: Exchange | None = None) -> Sent:
        """An open 2xx answer to ``request``, after as many attempts as it takes."""
        exchange = exchange if exchange is not None else Exchange("-")
        tries = _Tries()
        for attempt in range(self.max_attempts):
            if exchange.cancelled:
                raise ClientGone()
            lease = self._lease(request, tries)
            try:
                response = self.call_on(request, lease, exchange)
            except UpstreamError as err:
                if not isinstance(err, UpstreamStatus):
                    self._after_egress_failure(request, lease, err, tries)
                    continue
                tries.last = err
                self._after_failure(request, lease, err, attempt, tries, exchange)
                continue
            exchange.served_by(lease.account.id)
            for suspect, failure in tries.suspects:  # it was them, not the request
                self.pool.blame(suspect, request.model, failure)
            return Sent(response, lease, request.model)
        if tries.last is None:
            assert tries.egress is not None
            raise tries.egress
        raise self._final(tries.last, request.model)

    def _after_egress_failure(
        self,
        request: UpstreamRequest,
        lease: Lease,
        err: UpstreamError,
        tries: _Tries,
    ) -> None:
        """No answer through the account's own proxy: another account may leave
        another way. Without a proxy every account shares this network, so the
        failure is the request's (raised as it is)."""
        if not lease.proxy_url:
            raise err
        log.warning(
            "account %s: no answer through its proxy (%s); trying another account",
            lease.account.id,
            err.message,
        )
        tries.egress = err
        tries.excluded |= {lease.account.id}
        self.pool.forget_session(request.session)

    def settle(self, sent: Sent, failure: GatewayError | None) -> None:
        """Tell the pool how the account did once its answer was read.

        Why a cut counts as a 500: the account's answer broke off, which is what a
        server error says too; the account rests briefly and others are tried.
        """
        if failure is None:
            self.pool.report_success(sent.lease)
            return
        cut = UpstreamStatus(500, "", message=f"answer cut off: {failure.message}")
        # Its 2xx proved the request acceptable, so the cut is the account's:
        # the (account, model) pair rests as for a 500 another account served.
        self.pool.blame(sent.lease, sent.model, cut)
        log.info("account %s: answer cut off mid-way", sent.lease.account.id)

    def _lease(self, request: UpstreamRequest, tries: _Tries) -> Lease:
        """The account refreshed after a 401 again, else the pool's next choice."""
        if tries.pinned is not None:
            account_id, tries.pinned = tries.pinned, None
            try:
                return self.pool.lease_for(account_id)
            except (AccountNotFound, AccountLoadError, OAuthError) as exc:
                log.info("account %s cannot be retried: %s", account_id, exc)
                tries.excluded |= {account_id}
        try:
            return self.pool.acquire(
                request.model, session=request.session, excluded=tries.excluded
            )
        except GatewayError as err:
            last = tries.last
            if last is None and tries.egress is not None:
                raise tries.egress from err
            raise (self._final(last, request.model) if last else err) from last

    def _after_failure(
        self,
        request: UpstreamRequest,
        lease: Lease,
        err: UpstreamStatus,
        attempt: int,
        tries: _Tries,
        exchange: Exchange,
    ) -> None:
        """Act on the pool's verdict; a second 401 on one account rotates."""
        account = lease.account.id
        if err.upstream_status == 401 and account in tries.refreshed:
            verdict = Verdict.ROTATE
        else:
            verdict = self.pool.report_failure(lease, request.model, err)
        last = exchange.attempts[-1]
        exchange.attempts[-1] = dataclasses.replace(last, reason=verdict.value)
        log.info(
            "attempt %d on account %s: upstream %s -> %s",
            attempt + 1,
            account,
            err.upstream_status,
            verdict.value,
        )
        if verdict is Verdict.FAIL:
            raise err
        if verdict is Verdict.SUSPECT:
            self._suspect(request, lease, err, tries)
        elif verdict is Verdict.RETRY:
            tries.refreshed.add(account)
            tries.pinned = account
        elif verdict is Verdict.ROTATE:
            tries.excluded |= {account}
            self.pool.forget_session(request.session)
        elif verdict is Verdict.BACKOFF:
            self.sleep(min(BACKOFF_CAP, BACKOFF_BASE * 2**attempt))

    def _suspect(
        self, request: UpstreamRequest, lease: Lease, err: UpstreamStatus, tries: _Tries
    ) -> None:
        """Another account next; a second account's same answer, when that
        confirms it (``StatusRule.confirm``), is the request's fault: answer now."""
        status = err.upstream_status
        seen = any(e.upstream_status == status for _, e in tries.suspects)
        if seen and status_rule(status).confirm:
            raise self._final(err, request.model) from err
        tries.suspects.append((lease, err))
        tries.excluded |= {lease.account.id}
        self.pool.forget_session(request.session)

    def _final(self, last: UpstreamStatus, model: str) -> GatewayError:
        error = _final_error(last)
        if isinstance(error, RateLimited):
            error.retry_after = self.pool.seconds_until_free(model) or error.retry_after
        return error

    def call_on(
        self, request: UpstreamRequest, lease: Lease, exchange: Exchange
    ) -> requests.Response:
        """One call of ``request`` on ``lease``, noted as an attempt of ``exchange``.

        ``send`` makes each of its attempts so; a caller that must use one
        given account (a warm-up) calls it directly.
        """
        started = time.monotonic()
        try:
            response = self._call(request, lease)
        except UpstreamError as err:
            _note(exchange, lease, err, started)
            raise
        _note(exchange, lease, response, started)
        return response

    def _call(self, request: UpstreamRequest, lease: Lease) -> requests.Response:
        body = self._envelope(request, lease)
        response = self.upstream.call(
            request.method,
            body,
            lease.access_token,
            proxy_url=lease.proxy_url,
            project=lease.project,
            stream=request.stream,
            extra_headers=request.extra_headers,
        )
        return response

    def _envelope(self, request: UpstreamRequest, lease: Lease) -> dict[str, Any]:
        if request.method == "countTokens":
            return wrap_count_tokens(request.inner)
        return wrap_request(
            request.inner,
            project=lease.project,
            model=request.model,
            request_id=f"agent/{uuid.uuid4().hex[:8]}/{request.session or 'none'}",
            request_type=request.request_type,
            session_id=account_session_id(lease.account.id),
        )


def _final_error(last: UpstreamStatus) -> GatewayError:
    """What the client sees once every attempt failed.

    The upstream's own message is kept (it names the problem); a status that only
    says something about our accounts becomes "busy" or "rate limited".
    """
    status = last.upstream_status
    if status == 429:
        retry = _retry_after(last)
        return RateLimited(
            f"all accounts are rate limited: {last.message}", retry_after=retry
        )
    if status == 404:
        return NotFoundError(last.message)
    if status in (401, 403):
        return Overloaded(_refused(last))
    if status in (503, 529):
        return Overloaded(f"the upstream is overloaded: {last.message}")
    if 400 <= status < 500:
        return last
    return UpstreamError(f"upstream error {status}: {last.message}")


def _refused(last: UpstreamStatus) -> str:
    """Why Google refused the last account, and what to do about it."""
    said = _EMAIL.sub("<email>", last.message)[:300]
    if last.upstream_status == 401:
        what = "its token was refused (401) even after a refresh"
    else:
        what = (
            "Google refused it (403 forbidden) and it is now marked forbidden: "
            'see "antigravity-proxy accounts list"'
        )
    return f"no account could serve this request; the last one tried: {what}: {said}"


def _retry_after(err: UpstreamStatus) -> int:
    value = {k.lower(): v for k, v in err.headers.items()}.get("retry-after", "")
    return int(value) if value.isdigit() else 30


def _note(
    exchange: Exchange,
    lease: Lease,
    outcome: requests.Response | UpstreamError,
    started: float,
) -> None:
    """One upstream call on ``lease``, as an ``Attempt`` of ``exchange``."""
    if isinstance(outcome, requests.Response):
        base, status, reason = base_of(outcome.url), outcome.status_code, "ok"
    elif isinstance(outcome, UpstreamStatus):
        base, status, reason = outcome.base_url, outcome.upstream_status, ""
    else:
        base, status, reason = "", 0, outcome.kind.value
    duration = time.monotonic() - started
    exchange.attempts.append(Attempt(lease.account.id, base, status, reason, duration))
