"""The z.ai HTTP client: Anthropic pass-through, MCP reverse proxy, vision chat.

``ZaiClient`` is built once per worker (``Services.zai``) and returns data: a
``Relayed`` answer (status, headers, body chunks) or parsed JSON; the handlers
turn it into their response. This is z.ai's one error seam: its ``requests``
exceptions become ``GatewayError`` here (``raise ... from exc``) and nowhere
else. Requests carry the z.ai key, never the client's or the gateway's; only
listed headers cross in either direction. Answers are relayed verbatim and
streamed chunk by chunk as they arrive (``iter_content(chunk_size=None)``);
z.ai's own error statuses pass through with their body, which the handler
stamps with the request id (``Relayed.error_stamped``, ``zai_errors``). After
the first byte a cut cannot change the status, so the relay logs it and ends
the stream.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from typing import IO, Any, Final, Protocol
from urllib.parse import parse_qsl, urlencode

import requests

from antigravity_proxy.config import Config, ZaiConfig
from antigravity_proxy.errors import (
    KIND_FROM_STATUS,
    ErrorKind,
    GatewayError,
    InvalidRequest,
    UpstreamStatus,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from antigravity_proxy.http import header_text
from antigravity_proxy.protocols.mcp import errors as mcp_errors
from antigravity_proxy.upstream.cloudcode import json_body
from antigravity_proxy.upstream.egress import (
    EnvironmentRoutes,
    SharedSession,
    prepared,
)
from antigravity_proxy.upstream.watch import watched_chunks
from antigravity_proxy.upstream.zai_errors import is_rpc_error
from antigravity_proxy.zai_dispatch import model_for_zai

log = logging.getLogger(__name__)

ANTHROPIC_HEADERS: Final = (
    "content-type",
    "accept",
    "anthropic-version",
    "user-agent",
    "accept-encoding",
    "cache-control",
)
ANTHROPIC_RESPONSE_HEADERS: Final = ("content-type", "retry-after")
MCP_REQUEST_HEADERS: Final = (
    "accept",
    "content-type",
    "user-agent",
    "mcp-session-id",
    "mcp-protocol-version",
    "last-event-id",
)
MCP_RESPONSE_HEADERS: Final = (
    "content-type",
    "mcp-session-id",
    "mcp-protocol-version",
    "allow",
)
VISION_HEADERS: Final = {"X-Title": "Vision MCP Local", "Accept-Language": "en-US,en"}
READ_TIMEOUT: Final = 300.0
MAX_ERROR_BODY: Final = 64 * 1024
UPLOAD_BLOCK: Final = 64 * 1024


class HeaderSource(Protocol):
    """Werkzeug ``Headers``, a ``requests`` header dict or a plain dict."""

    def items(self) -> Iterable[tuple[str, str]]: ...


class Upload:
    """A request body streamed up block by block.

    Why ``__len__``: ``requests`` sends a sized iterable with ``Content-Length``
    (z.ai need not accept chunked uploads) while still reading it lazily; a
    body of unknown length (a chunked upload) goes up chunked.
    """

    def __init__(self, stream: IO[bytes], length: int | None) -> None:
        self.stream = stream
        self.length = length

    def __len__(self) -> int:
        return self.length or 0

    def __iter__(self) -> Iterator[bytes]:
        while block := self.stream.read(UPLOAD_BLOCK):
            yield block

    def payload(self) -> Upload | Iterator[bytes]:
        return self if self.length is not None else iter(self)


@dataclass(frozen=True, slots=True)
class Relayed:
    """A z.ai answer to pass on: status, the headers that may cross, the body.

    ``body`` is the whole answer (bytes), or an iterator yielding it as it
    arrives that closes the upstream connection however it ends; ``stream``
    says it is an event stream, which the handler sends without buffering.
    """

    status: int
    headers: dict[str, str]
    body: bytes | Iterator[bytes]
    stream: bool = False

    def error_stamped(
        self, stamp: Callable[[bytes, str], bytes], request_id: str
    ) -> Relayed:
        """This answer, an error body read whole passed through ``stamp``.

        Why only that body: a 2xx answer is the client's data and a stream
        must pass as it arrives, so neither is ever parsed. ``stamp`` puts
        the request id in the body (``zai_errors``); the body's length is
        the response's to compute.
        """
        if 200 <= self.status < 300 or not isinstance(self.body, bytes):
            return self
        return replace(self, body=stamp(self.body, request_id))


class ZaiClient:
    """z.ai's HTTP client, built once per worker and injected as ``Services.zai``.

    It returns data (``Relayed``, parsed JSON), never a werkzeug response: the
    handlers decide how an answer reaches the client. The worker's threads share
    its connections (``SharedSession``).
    """

    def __init__(self, config: Config) -> None:
        self.config = config
        self._sessions = SharedSession()
        self._environment = EnvironmentRoutes()

    def anthropic(
        self, path: str, body: bytes, client_headers: HeaderSource, stream: bool
    ) -> Relayed:
        """Send an Anthropic Messages call to ``<zai.base_url><path>``.

        ``path`` is ``/v1/messages`` or ``/v1/messages/count_tokens`` (a query
        string such as ``?beta=true`` may follow). Only the ``model`` field of
        ``body`` is changed (``model_for_zai``); the mapped name comes back as
        ``X-Mapped-Model``. Auth follows the client's style (reference §5.5):
        ``Authorization: Bearer <z.ai key>`` if it sent ``Authorization`` and no
        ``x-api-key``, else ``x-api-key: <z.ai key>``. An error status or a
        non-streamed answer is read whole.
        """
        zai = _configured(self.config.zai)
        data, mapped = _with_zai_model(zai, body)
        headers = _anthropic_headers(zai.api_key, client_headers)
        url = zai.base_url.rstrip("/") + _without_gateway_key(path)
        upstream = self._send("POST", url, headers=headers, data=data)
        relayed = _picked(upstream.headers, ANTHROPIC_RESPONSE_HEADERS)
        if mapped:
            relayed["X-Mapped-Model"] = header_text(mapped)
        if not stream or not upstream.ok:
            return _whole(upstream, relayed)
        return Relayed(upstream.status_code, relayed, passthrough(upstream), True)

    def mcp(
        self,
        server: str,
        method: str,
        client_headers: HeaderSource,
        body: Upload | None,
    ) -> Relayed:
        """Relay one MCP streamable-HTTP call to ``<zai.mcp_base_url>/<server>/mcp``.

        Any method; the body goes up as it is read and the answer (JSON or an
        SSE stream) comes down as it arrives, with its status and the MCP headers
        (``Mcp-Session-Id`` both ways, ``Last-Event-ID`` up for resumption).
        """
        zai = _configured(self.config.zai)
        headers = _picked(client_headers, MCP_REQUEST_HEADERS)
        headers["Authorization"] = f"Bearer {zai.api_key.strip()}"
        url = f"{zai.mcp_base_url.rstrip('/')}/{server}/mcp"
        data = None if body is None else body.payload()
        upstream = self._send(method, url, headers=headers, data=data)
        relayed = _picked(upstream.headers, MCP_RESPONSE_HEADERS)
        if upstream.status_code >= 400:
            return _mcp_error(upstream, relayed)
        stream = "event-stream" in relayed.get("content-type", "")
        return Relayed(upstream.status_code, relayed, passthrough(upstream), stream)

    def vision_chat(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """POST ``<zai.vision_base_url>/chat/completions``; the parsed JSON answer.

        A non-2xx answer raises ``UpstreamStatus`` whose message names the status
        and the start of the body, so the vision tool can report it to the model;
        a 2xx that is not a JSON object is an ``UpstreamError`` (``json_body``).
        """
        zai = _configured(self.config.zai)
        headers = {
            **VISION_HEADERS,
            "Authorization": f"Bearer {zai.api_key.strip()}",
            "Content-Type": "application/json",
        }
        data = json.dumps(body, ensure_ascii=False).encode("utf-8")
        url = zai.vision_base_url.rstrip("/") + "/chat/completions"
        upstream = self._send("POST", url, headers=headers, data=data)
        if upstream.ok:
            return json_body(upstream, "z.ai vision chat")
        with upstream:
            text = _read_body(upstream).decode("utf-8", errors="replace")
        raise UpstreamStatus(
            upstream.status_code,
            text,
            message=f"z.ai vision answered HTTP {upstream.status_code}: {text[:500]}",
        )

    def _session(self) -> requests.Session:
        return self._sessions.get()

    def _send(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        data: bytes | Iterable[bytes] | None,
    ) -> requests.Response:
        """One request to z.ai; a redirect is answered as it is, never followed.

        Why: ``requests`` would resend ``x-api-key`` (and, to the same host, the
        bearer key) to wherever the ``Location`` points, and a streamed body
        cannot be sent twice anyway.
        """
        timeout = (self.config.upstream.connect_timeout, READ_TIMEOUT)
        session = self._session()
        try:
            return session.send(
                prepared(session, method, url, data, headers),
                stream=True,
                timeout=timeout,
                allow_redirects=False,
                proxies=self._environment.for_url(url),
            )
        except requests.ReadTimeout as exc:
            raise UpstreamTimeout("z.ai did not answer in time") from exc
        except requests.RequestException as exc:
            log.warning("z.ai unreachable: %s", type(exc).__name__)
            raise UpstreamUnavailable(
                f"z.ai request failed: {type(exc).__name__}"
            ) from exc


def passthrough(upstream: requests.Response) -> Iterator[bytes]:
    """The upstream body, each chunk as soon as it arrives; closed however it ends.

    An empty chunk is a tick of upstream silence and a cut or stall raises an
    ``UpstreamError`` (``upstream.watch``): ``passthrough.watched`` turns both
    into the stream's keep-alives and terminal error event.
    """
    try:
        yield from watched_chunks(upstream)
    finally:
        upstream.close()


def _mcp_error(upstream: requests.Response, relayed: dict[str, str]) -> Relayed:
    """z.ai's error answer as a JSON-RPC error, its status and MCP headers kept.

    Why: an MCP client parses every answer as JSON-RPC; z.ai's front ends answer
    some failures with their own JSON, plain text or HTML. A body that already is
    a JSON-RPC error passes through unchanged.
    """
    content = _error_content(upstream)
    status = upstream.status_code
    if is_rpc_error(content):
        return Relayed(status, relayed, content)
    text = content.decode("utf-8", errors="replace").strip()[:500]
    kind = KIND_FROM_STATUS.get(status, ErrorKind.UPSTREAM)
    message = f"z.ai MCP answered HTTP {status}" + (f": {text}" if text else "")
    body = mcp_errors.error_body(GatewayError(message, kind=kind))
    relayed["content-type"] = "application/json"
    return Relayed(status, relayed, json.dumps(body).encode("utf-8"))


def _error_content(upstream: requests.Response) -> bytes:
    """At most ``MAX_ERROR_BODY`` bytes of an error answer; a cut keeps what came."""
    content = b""
    with upstream:
        try:
            for chunk in upstream.iter_content(chunk_size=None):
                content += chunk
                if len(content) >= MAX_ERROR_BODY:
                    break
        except requests.RequestException as exc:
            log.warning("z.ai error answer was cut off: %s", type(exc).__name__)
    return content[:MAX_ERROR_BODY]


def _configured(zai: ZaiConfig) -> ZaiConfig:
    if not zai.enabled:
        raise InvalidRequest("z.ai is disabled (zai.enabled is false)")
    if not zai.api_key.strip():
        raise InvalidRequest("z.ai is not configured: zai.api_key is empty")
    return zai


def _whole(upstream: requests.Response, headers: dict[str, str]) -> Relayed:
    """A complete (non-streamed or error) answer, read whole, status kept."""
    with upstream:
        content = _read_body(upstream)
    return Relayed(upstream.status_code, headers, content)


def _read_body(upstream: requests.Response) -> bytes:
    try:
        return upstream.content
    except requests.RequestException as exc:
        raise UpstreamUnavailable("z.ai answer was cut off") from exc


def _with_zai_model(zai: ZaiConfig, body: bytes) -> tuple[bytes, str]:
    """``body`` with its ``model`` mapped; unchanged bytes when nothing changes."""
    try:
        parsed = json.loads(body)
    except ValueError:
        return body, ""
    if not isinstance(parsed, dict) or not isinstance(parsed.get("model"), str):
        return body, ""
    mapped = model_for_zai(zai, parsed["model"])
    if mapped == parsed["model"]:
        return body, mapped
    rewritten = {**parsed, "model": mapped}
    return json.dumps(rewritten, ensure_ascii=False).encode("utf-8"), mapped


def _without_gateway_key(path: str) -> str:
    """``path`` without a ``key`` query parameter, the gateway key's query form."""
    route, _, query = path.partition("?")
    kept = [(k, v) for k, v in parse_qsl(query, keep_blank_values=True) if k != "key"]
    return f"{route}?{urlencode(kept)}" if kept else route


def _anthropic_headers(zai_key: str, client: HeaderSource) -> dict[str, str]:
    headers = _picked(client, ANTHROPIC_HEADERS)
    headers.setdefault("content-type", "application/json")
    sent = {name.lower() for name, value in client.items() if value}
    if "authorization" in sent and "x-api-key" not in sent:
        headers["Authorization"] = f"Bearer {zai_key.strip()}"
    else:
        headers["x-api-key"] = zai_key.strip()
    return headers


def _picked(source: HeaderSource, names: tuple[str, ...]) -> dict[str, str]:
    """The named headers present in ``source``, whatever their case there."""
    lowered = {key.lower(): value for key, value in source.items()}
    return {name: lowered[name] for name in names if lowered.get(name)}
