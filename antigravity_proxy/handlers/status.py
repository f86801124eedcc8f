"""What the box is doing: ``GET /metrics``, the status page and its data.

The page (``GET /`` and ``/status``) is a static shell that says nothing about
the box; it asks for the gateway key and fetches ``GET /status/data`` with it in
the ``x-api-key`` header, like any API client. ``/metrics`` and ``/status/data``
need the key like every other route; only the shell is open (``auth.py``).
"""

from __future__ import annotations

import time
from importlib import resources
from typing import Final

from werkzeug.wrappers import Request, Response

from antigravity_proxy.http import json_response
from antigravity_proxy.services import Services
from antigravity_proxy.usage import metrics as metrics_mod
from antigravity_proxy.usage.accounts_view import account_views
from antigravity_proxy.usage.report import status_report

PAGE: Final = (
    resources.files("antigravity_proxy.usage").joinpath("status.html").read_bytes()
)
PAGE_HEADERS: Final = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
        "connect-src 'self'; img-src 'self' data:; base-uri 'none'; "
        "form-action 'none'; frame-ancestors 'none'"
    ),
}


def status_page(services: Services, request: Request) -> Response:
    return Response(PAGE, mimetype="text/html", headers=PAGE_HEADERS)


def status_data(services: Services, request: Request) -> Response:
    now = time.time()
    views = account_views(services.store.all(), services.state.active_cooldowns(), now)
    body = status_report(services.ledger.reader(), views, now)
    return json_response(body, headers={"Cache-Control": "no-store"})


def metrics(services: Services, request: Request) -> Response:
    now = time.time()
    views = account_views(services.store.all(), services.state.active_cooldowns(), now)
    families = metrics_mod.ledger_families(services.ledger.reader(), now)
    text = metrics_mod.render([*families, *metrics_mod.account_families(views)])
    return Response(text, content_type=metrics_mod.CONTENT_TYPE)
