"""The Cloud Code ``v1internal`` HTTP client: the first of the three error seams.

``POST <base>:<method>`` over ``upstream.base_urls`` in order: 404, 408, 5xx and
network errors try the next base; 429, 400, 401 and 403 come back at once (another
host would answer the same for this account). Transport failures and non-2xx
statuses leave this module only as ``GatewayError`` subclasses, raised ``from``
the ``requests`` exception. The threads of a worker share one session, so a
connection a finished call gave back serves the next call (`SharedSession`).

Every call names the account's egress proxy (``proxy_url``, ``""`` for none):
the parameter has no default, so no call site can forget the account's proxy
(``upstream/egress.py``).
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final

import requests

from antigravity_proxy import json_codec
from antigravity_proxy.config import UpstreamConfig
from antigravity_proxy.errors import (
    GatewayError,
    UpstreamError,
    UpstreamStatus,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from antigravity_proxy.sse import SSEDecoder
from antigravity_proxy.upstream.egress import (
    EnvironmentRoutes,
    SharedSession,
    prepared,
    route,
)
from antigravity_proxy.upstream.message_text import TextMeaning, first_match, says
from antigravity_proxy.upstream.watch import SILENCE

log = logging.getLogger(__name__)

NEXT_BASE_STATUSES: Final = frozenset({404, 408})
MAX_ERROR_BODY: Final = 64 * 1024
PROCESS_SESSION_ID: Final = str(uuid.uuid4())
PLACEHOLDER_PROJECTS: Final = frozenset({"", "test-project", "project-id"})


@dataclass(frozen=True, slots=True)
class _Post:
    """One call as sent to each base URL in turn (headers may lose a field)."""

    method: str
    data: bytes
    headers: dict[str, str]
    stream: bool
    proxy_url: str


class CloudCodeClient:
    """Calls ``v1internal`` methods with an account's access token."""

    def __init__(self, config: UpstreamConfig) -> None:
        self.config = config
        self.timeout = (config.connect_timeout, config.read_timeout)
        self._sessions = SharedSession()
        self._environment = EnvironmentRoutes()

    @property
    def session(self) -> requests.Session:
        return self._sessions.get()

    def headers(self, access_token: str, project: str = "") -> dict[str, str]:
        headers = {
            "Content-Type": "application/json",
            "Authorization": f"Bearer {access_token}",
            "User-Agent": self.config.user_agent,
            "x-client-name": "antigravity",
            "x-client-version": client_version(self.config.user_agent),
            "x-vscode-sessionid": PROCESS_SESSION_ID,
        }
        if project not in PLACEHOLDER_PROJECTS:
            headers["x-goog-user-project"] = project
        return headers

    def call(
        self,
        method: str,
        body: Mapping[str, Any],
        access_token: str,
        *,
        proxy_url: str,
        project: str = "",
        stream: bool = False,
        extra_headers: Mapping[str, str] | None = None,
    ) -> requests.Response:
        """POST ``body`` to ``<base>:<method>``; return the first 2xx response.

        Why the retry without ``x-goog-user-project``: some accounts' projects are
        not usable as quota projects, and the upstream answers 403 to the header
        while accepting the same request without it.
        """
        data = json_codec.dumps(body)
        headers = {**self.headers(access_token, project), **(extra_headers or {})}
        post = _Post(method, data, headers, stream, proxy_url)
        try:
            return self._over_bases(post)
        except UpstreamStatus as err:
            if err.upstream_status != 403 or "x-goog-user-project" not in headers:
                raise
            headers.pop("x-goog-user-project")
            return self._over_bases(post)

    def call_json(
        self,
        method: str,
        body: Mapping[str, Any],
        access_token: str,
        *,
        proxy_url: str,
        project: str = "",
    ) -> dict[str, Any]:
        """A non-streaming call whose JSON answer is returned parsed."""
        response = self.call(
            method, body, access_token, proxy_url=proxy_url, project=project
        )
        return json_body(response, method)

    def _over_bases(self, post: _Post) -> requests.Response:
        method = post.method
        query = "?alt=sse" if post.stream else ""
        last: GatewayError = UpstreamUnavailable("no upstream base URL configured")
        for base in self.config.base_urls:
            url = f"{base}:{method}{query}"
            try:
                session = self.session
                response = session.send(
                    prepared(session, "POST", url, post.data, post.headers),
                    stream=post.stream,
                    timeout=self.timeout,
                    proxies=route(self._environment, url, post.proxy_url),
                )
            except requests.Timeout as exc:
                log.warning("upstream %s timed out at %s", method, base)
                last = UpstreamTimeout(f"upstream {method} timed out")
                last.__cause__ = exc
                continue
            except requests.RequestException as exc:
                log.warning(
                    "upstream %s unreachable at %s: %s",
                    method,
                    base,
                    type(exc).__name__,
                )
                last = UpstreamUnavailable(
                    f"upstream {method} is unreachable ({type(exc).__name__})"
                )
                last.__cause__ = exc
                continue
            if response.ok:
                return response
            last = _status_error(response)
            last.base_url = base
            if not _try_next_base(response.status_code):
                raise last
            log.warning(
                "upstream %s answered %s at %s", method, response.status_code, base
            )
        raise last


def json_body(response: requests.Response, method: str) -> dict[str, Any]:
    """The JSON object of a non-streamed 2xx upstream answer, which it closes.

    Every upstream JSON answer (Cloud Code, z.ai) is read here. Why: a 2xx whose
    body is not a JSON object (an HTML page from a front end, a body cut short,
    a bare list) is an upstream failure, and this module is where upstream
    failures become ``GatewayError``: an ``UpstreamError`` (502) naming
    ``method``, never a ``ValueError`` or an empty answer read as zeros.
    """
    with response:
        try:
            # Bytes, not .text: json detects UTF-8/16/32 itself, while .text may
            # run charset detection over a multi-megabyte image answer.
            content = response.content
        except requests.RequestException as exc:
            raise UpstreamUnavailable(f"upstream {method} answer was cut off") from exc
    try:
        parsed = json.loads(content)
    except (ValueError, RecursionError) as exc:
        raise UpstreamError(f"upstream {method} answered with invalid JSON") from exc
    if not isinstance(parsed, dict):
        raise UpstreamError(
            f"upstream {method} answered JSON {type(parsed).__name__}, not an object"
        )
    return parsed


def iter_events(
    response: requests.Response, chunks: Iterable[bytes] | None = None
) -> Iterator[Any]:
    """Parsed JSON of each SSE event, as soon as its bytes arrive.

    Why ``chunk_size=None``: it yields whatever the socket delivered; the default
    of 1 would read one byte per call. A cut or a read timeout mid-stream becomes
    an ``UpstreamError``; ``[DONE]`` and unparsable events are skipped, but a 2xx
    that carried no readable event at all (an HTML page, broken JSON) is an
    ``UpstreamError`` too, not an empty answer. ``chunks`` replaces the body's own
    chunks (``upstream.watch``); an empty chunk there is a tick of silence, passed
    on as ``SILENCE``.
    """
    decoder = SSEDecoder()
    readable = 0
    try:
        for chunk in (
            response.iter_content(chunk_size=None) if chunks is None else chunks
        ):
            if not chunk:
                yield SILENCE
                continue
            for event in _parsed(decoder.feed(chunk)):
                readable += 1
                yield event
    except requests.Timeout as exc:
        raise UpstreamTimeout("upstream stream stalled") from exc
    except requests.RequestException as exc:
        raise UpstreamUnavailable("upstream stream was cut off") from exc
    for event in _parsed(decoder.flush()):
        readable += 1
        yield event
    if not readable:
        raise UpstreamError("upstream answered without a readable event")


def _parsed(events: list[Any]) -> Iterator[Any]:
    for event in events:
        if event.data.strip() == "[DONE]":
            continue
        try:
            yield event.json()
        except ValueError:
            log.warning("skipping an upstream SSE event that is not JSON")


def base_of(url: str | None) -> str:
    """``https://host/v1internal:method?alt=sse`` -> ``https://host/v1internal``."""
    return (url or "").partition("?")[0].rpartition(":")[0] if url else ""


def client_version(user_agent: str) -> str:
    """``Antigravity/4.3.0 (...)`` -> ``4.3.0``."""
    product = user_agent.split(" ", 1)[0]
    return product.partition("/")[2] or "4.3.0"


def _try_next_base(status: int) -> bool:
    return status in NEXT_BASE_STATUSES or status >= 500


def _status_error(response: requests.Response) -> UpstreamStatus:
    with response:
        body = response.text[:MAX_ERROR_BODY]
    error = UpstreamStatus(
        response.status_code,
        body,
        headers=dict(response.headers),
        message=upstream_message(body, response.status_code),
    )
    if response.status_code == 400:
        error.prompt_too_long = prompt_too_long_counts(error.message)
    return error


def prompt_too_long_counts(message: str) -> tuple[int | None, int | None] | None:
    """(sent, allowed) tokens when ``message`` says the prompt is too long.

    Why message text: the upstream gives the context-window 400 no error code;
    the wording it uses is in ``message_text.MESSAGE_TEXT_RULES``.
    """
    if not says(TextMeaning.PROMPT_TOO_LONG, message):
        return None
    found = first_match(TextMeaning.TOKEN_COUNTS, message)
    if found is None:
        return None, None
    return int(found.group(1)), int(found.group(2))


def upstream_message(body: str, status: int) -> str:
    """Google's own ``error.message`` (it names the problem), else a generic line."""
    try:
        error = json.loads(body).get("error")
    except (ValueError, AttributeError):
        error = None
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        return str(error["message"])
    return f"upstream returned HTTP {status}"
