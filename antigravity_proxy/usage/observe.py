"""Where the usage ledger meets the request pipeline.

``UsageMiddleware`` sits inside ``ExchangeMiddleware``: for each request it adds
an ``on_finish`` hook that maps the finished ``Exchange`` to a ledger row and
queues it (the request thread pays one mapping and one ``put_nowait``), and it
counts the streaming responses open now for ``/metrics``. Requests to the
observation routes themselves (health, metrics, status page and its data, also
when refused for a missing key), the browser's favicon request and CORS
preflights are not recorded: a scraper would otherwise fill the ledger.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Final

from antigravity_proxy.exchange import Exchange, exchange_of
from antigravity_proxy.usage.ledger import Ledger
from antigravity_proxy.usage.row import row_from_exchange

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

UNRECORDED_ROUTES: Final = frozenset(
    {
        "antigravity_proxy.handlers.internal.healthz",
        "antigravity_proxy.handlers.status.metrics",
        "antigravity_proxy.handlers.status.status_page",
        "antigravity_proxy.handlers.status.status_data",
    }
)


UNRECORDED_PATHS: Final = frozenset(
    {"/healthz", "/metrics", "/", "/status", "/status/data", "/favicon.ico"}
)


def is_recorded(exchange: Exchange) -> bool:
    return (
        exchange.route not in UNRECORDED_ROUTES
        and exchange.path not in UNRECORDED_PATHS
    )


class UsageMiddleware:
    def __init__(self, app: WSGIApplication, ledger: Ledger) -> None:
        self.app = app
        self.ledger = ledger

    def __call__(
        self, environ: WSGIEnvironment, start_response: StartResponse
    ) -> Iterable[bytes]:
        exchange = exchange_of(environ)
        if environ.get("REQUEST_METHOD") != "OPTIONS":
            user_agent = environ.get("HTTP_USER_AGENT", "")
            api_client = environ.get("HTTP_X_GOOG_API_CLIENT", "")

            def record(finished: Exchange) -> None:
                if is_recorded(finished):
                    row = row_from_exchange(finished, user_agent, api_client)
                    self.ledger.record(row)

            exchange.on_finish.append(record)
        body = self.app(environ, start_response)
        if not exchange.stream:
            return body
        self.ledger.stream_opened()
        return _CountedStream(body, self.ledger)


class _CountedStream:
    """A streaming body that says when it is over (``close`` runs exactly once)."""

    def __init__(self, body: Iterable[bytes], ledger: Ledger) -> None:
        self.body = body
        self.ledger = ledger
        self._closed = False

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.body)

    def close(self) -> None:
        try:
            close = getattr(self.body, "close", None)
            if close is not None:
                close()
        finally:
            if not self._closed:
                self._closed = True
                self.ledger.stream_closed()
