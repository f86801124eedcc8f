"""The access log: one line per request, written when its ``Exchange`` finishes.

Text (``logging.format: text``), after the common prefix of every log line::

    2026-12-02T16:52:03.123Z INFO [req_3f2a…] access: POST /v1/messages 200
    anthropic model=claude-sonnet-4-6->claude-sonnet-4-6-thinking key=main account=acc-1
    attempts=2 tokens=1520/312 ttfb=840ms duration=5230ms ending=complete

(one line; wrapped here). With ``logging.format: json`` the same fields are keys
of the line's JSON object: ``method``, ``path``, ``status``, ``protocol``,
``client_model``, ``upstream_model``, ``key`` (the gateway key's name, never
the key), ``account``, ``attempts``, ``tokens_in``,
``tokens_out``, ``ttfb_ms``, ``duration_ms``, ``ending``. A field that does not
apply is ``-`` (text) or null (JSON). The path never includes the query string
(Gemini clients may carry the key in ``?key=``); client text (path, model) is
bounded and, in text lines, escaped by the handler's ``EscapingFilter``.
"""

from __future__ import annotations

import logging
from typing import Any, Final

from antigravity_proxy.exchange import Exchange

log = logging.getLogger("access")

FIELD_MAX: Final = 200


def access_fields(exchange: Exchange) -> dict[str, Any]:
    """The access line's fields; times in milliseconds."""
    ttfb = exchange.ttfb()
    return {
        "method": exchange.method,
        "path": exchange.path[:FIELD_MAX],
        "status": exchange.status,
        "protocol": exchange.protocol or None,
        "client_model": exchange.client_model[:FIELD_MAX] or None,
        "upstream_model": exchange.upstream_model[:FIELD_MAX] or None,
        "account": exchange.account,
        "key": exchange.key_name,
        "attempts": len(exchange.attempts),
        "tokens_in": exchange.usage.input_tokens,
        "tokens_out": exchange.usage.output_tokens,
        "ttfb_ms": None if ttfb is None else round(ttfb * 1000),
        "duration_ms": round(exchange.duration() * 1000),
        "ending": str(exchange.ending) if exchange.ending else None,
    }


def access_text(fields: dict[str, Any]) -> str:
    """The text form of the fields (``-`` for what does not apply)."""

    def show(name: str) -> str:
        value = fields[name]
        return "-" if value is None or value == "" else str(value)

    ttfb = "-" if fields["ttfb_ms"] is None else f"{fields['ttfb_ms']}ms"
    model = f"{show('client_model')}->{show('upstream_model')}"
    return (
        f"{show('method')} {show('path')} {show('status')} {show('protocol')} "
        f"model={'-' if model == '-->-' else model} "
        f"key={show('key')} account={show('account')} attempts={fields['attempts']} "
        f"tokens={fields['tokens_in']}/{fields['tokens_out']} ttfb={ttfb} "
        f"duration={fields['duration_ms']}ms ending={show('ending')}"
    )


def log_access(exchange: Exchange) -> None:
    """The ``on_finish`` hook that writes the request's access line."""
    fields = access_fields(exchange)
    extra = {"access": fields, "request_id": exchange.request_id}
    log.info("%s", access_text(fields), extra=extra)
