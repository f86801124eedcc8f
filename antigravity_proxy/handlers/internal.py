"""Gateway-internal endpoints: health, Claude Code telemetry sink, warm-up, detect.

``warm_up`` and ``describe_model`` are also what the CLI's ``accounts warmup`` and
``models`` commands run, so a route and its command never disagree.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from werkzeug.wrappers import Request, Response

from antigravity_proxy import __version__
from antigravity_proxy.accounts.oauth import OAuthError
from antigravity_proxy.accounts.service import Lease, Verdict
from antigravity_proxy.accounts.store import (
    Account,
    AccountLoadError,
    AccountNotFound,
)
from antigravity_proxy.dispatch import UpstreamRequest
from antigravity_proxy.errors import (
    GatewayError,
    InvalidRequest,
    NotFoundError,
    UpstreamStatus,
)
from antigravity_proxy.exchange import Exchange
from antigravity_proxy.http import json_response, read_json_object
from antigravity_proxy.models import is_image_model, resolve_model
from antigravity_proxy.pipeline import Pipeline
from antigravity_proxy.protocols.openai.image_config import ImageConfig, image_model
from antigravity_proxy.services import Services

DISCARD_CHUNK = 64 * 1024
DEFAULT_WARMUP_MODEL: Final = "gemini-3-flash"
WEB_SEARCH_SUFFIX: Final = "-online"


def healthz(services: Services, request: Request) -> Response:
    """Always 200 while the gateway serves; ``state`` says whether the shared
    state answers (the gateway serves from local state when it does not)."""
    state = services.state.health()
    return json_response(
        {
            "status": "ok",
            "version": __version__,
            "state": {"backend": state.backend, "ok": state.ok},
        }
    )


def event_logging(services: Services, request: Request) -> Response:
    """Claude Code posts telemetry here; accept it and keep nothing.

    The body is drained in chunks through the size-limited stream, never held
    whole, so a large batch costs no memory.
    """
    stream = request.stream
    while stream.read(DISCARD_CHUNK):
        pass
    return json_response({})


def warmup(services: Services, request: Request) -> Response:
    """``{"email" | "account_id", "model"?}``: one tiny real request on that account.

    Why: an account's quota window starts at its first request; warming every
    account up at once aligns their resets. The answer is the reference's
    ``{"success", "message", "error"?}`` with the upstream's status on failure.
    """
    body = read_json_object(request)
    account = _named_account(services, body)
    model = body.get("model") or DEFAULT_WARMUP_MODEL
    if not isinstance(model, str):
        raise InvalidRequest("'model' must be a string", param="model")
    pipe = Pipeline(services, request)
    result = warm_up(services, account, model, pipe.exchange)
    pipe.exchange.describe((model, result.model), False)
    return pipe.json(result.body, status=result.status)


def detect_model(services: Services, request: Request) -> Response:
    """``{"model"}`` -> what the gateway would do with that model id."""
    model = read_json_object(request).get("model")
    if not isinstance(model, str) or not model.strip():
        raise InvalidRequest("Missing 'model' field", param="model")
    return json_response(describe_model(model, services.config.model_mapping))


@dataclass(frozen=True, slots=True)
class WarmupResult:
    model: str
    status: int
    body: dict[str, Any]

    @property
    def ok(self) -> bool:
        return self.status == 200


def describe_model(name: str, mapping: Mapping[str, str]) -> dict[str, Any]:
    """The reference's detect shape: mapped model, request type, image config.

    ``mapped_model`` is what goes upstream: ``model_mapping``, then the built-in
    table, with a ``-online`` suffix (web search) or image size/ratio suffixes
    taken off. Image models report the ``imageConfig`` their name implies.
    """
    mapped = resolve_model(name, mapping)
    if mapped.endswith(WEB_SEARCH_SUFFIX):
        mapped = resolve_model(mapped.removesuffix(WEB_SEARCH_SUFFIX), mapping)
    image = is_image_model(name) or is_image_model(mapped)
    search = name.endswith(WEB_SEARCH_SUFFIX) and not image
    kind = "image_gen" if image else "web_search" if search else "agent"
    described: dict[str, Any] = {
        "model": name,
        "mapped_model": mapped,
        "type": kind,
        "features": {"has_web_search": search, "is_image_gen": image},
    }
    if image:
        upstream, config = image_model(name, mapping)
        described["mapped_model"] = upstream
        described["config"] = config.over(ImageConfig("1:1")).to_upstream()
    return described


def warm_up(
    services: Services,
    account: Account,
    model: str,
    exchange: Exchange | None = None,
) -> WarmupResult:
    """Send the smallest real request for ``model`` on ``account``.

    A 401 refreshes the token and tries once more; other upstream errors are
    reported to the pool (a 429 cools the account down, a 403 marks it) and
    returned with the upstream's status. Each upstream call is an attempt of
    ``exchange`` (the route's request; the CLI has none).
    """
    exchange = exchange if exchange is not None else Exchange("-")
    upstream_model = resolve_model(model, services.config.model_mapping)
    if not account.usable(time.time()):
        reason = f"account {account.id} is disabled or forbidden"
        return _failed(upstream_model, 409, "Warmup skipped", reason)
    for _ in range(2):
        try:
            lease = services.pool.lease_for(account.id)
        except (OAuthError, AccountNotFound, AccountLoadError) as exc:
            message = f"Failed to get a token for {account.id}"
            return _failed(upstream_model, 502, message, str(exc))
        result = _warm_call(services, lease, upstream_model, exchange)
        if isinstance(result, WarmupResult):
            return result
    return _failed(upstream_model, 401, "Warmup failed: HTTP 401", "token refused")


def warmup_request(upstream_model: str) -> dict[str, Any]:
    """The reference's warm-up body: one short prompt, no thinking asked for."""
    config: dict[str, Any] = {"temperature": 0}
    if is_image_model(upstream_model):
        config.update(maxOutputTokens=10, responseModalities=["TEXT"])
    return {
        "contents": [{"role": "user", "parts": [{"text": "Say hi"}]}],
        "generationConfig": config,
    }


def _warm_call(
    services: Services, lease: Lease, upstream_model: str, exchange: Exchange
) -> WarmupResult | Verdict:
    image = is_image_model(upstream_model)
    request = UpstreamRequest(
        method="generateContent",
        model=upstream_model,
        inner=warmup_request(upstream_model),
        stream=False,
        request_type="image_gen" if image else "agent",
    )
    try:
        response = services.dispatcher.call_on(request, lease, exchange)
    except GatewayError as err:
        return _warm_failure(services, lease, upstream_model, err)
    exchange.served_by(lease.account.id)
    response.close()
    services.pool.report_success(lease)
    message = f"Warmup triggered for {upstream_model}"
    return WarmupResult(upstream_model, 200, {"success": True, "message": message})


def _warm_failure(
    services: Services, lease: Lease, upstream_model: str, err: GatewayError
) -> WarmupResult | Verdict:
    if isinstance(err, UpstreamStatus):
        verdict = services.pool.report_failure(lease, upstream_model, err)
        if verdict is Verdict.RETRY:
            return verdict
        status = err.upstream_status
        return _failed(
            upstream_model, status, f"Warmup failed: HTTP {status}", err.message
        )
    return _failed(upstream_model, err.status, "Warmup request failed", err.message)


def _failed(model: str, status: int, message: str, error: str) -> WarmupResult:
    body = {"success": False, "message": message, "error": error}
    return WarmupResult(model, status, body)


def _named_account(services: Services, body: Mapping[str, Any]) -> Account:
    account_id, email = body.get("account_id"), body.get("email")
    if isinstance(account_id, str) and account_id:
        try:
            return services.store.get(account_id)
        # ValueError: not a valid id; OSError: a name the file system refuses
        except (AccountNotFound, ValueError, OSError):
            raise NotFoundError(
                f"no account with id {account_id}", param="account_id"
            ) from None
    if not isinstance(email, str) or not email.strip():
        raise InvalidRequest("give the account as 'email' or 'account_id'")
    wanted = email.strip().casefold()
    for account in services.store.all():
        if account.email.strip().casefold() == wanted:
            return account
    raise NotFoundError("no account with that email", param="email")
