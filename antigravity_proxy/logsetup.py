"""One log format for the gateway's and gunicorn's lines, text or JSON.

``logging_dict`` is the ``dictConfig`` both ``serve`` (through gunicorn's
``logconfig_dict``) and the CLI use: one stderr handler whose filters give every
record the id of the request being served (``RequestIdFilter``) and make client
text harmless (``logsafe.EscapingFilter``), and whose ``GatewayFormatter``
writes::

    2026-12-02T16:52:03.123Z INFO [req_1f…] antigravity_proxy.dispatch: message

or, with ``logging.format: json``, one JSON object per line with ``ts``,
``level``, ``logger``, ``request_id`` and ``message`` (plus the access line's own
fields, see ``accesslog``). gunicorn's error log goes through the same handler;
its access log is off, the gateway writes one access line per request itself.
"""

from __future__ import annotations

import json
import logging
import logging.config
import time
from typing import Any, Final

from antigravity_proxy.logsafe import EscapingFilter
from antigravity_proxy.observer import RequestIdFilter

HANDLER: Final = "gateway"


class GatewayFormatter(logging.Formatter):
    """``ts level [request id] logger: message``, or the same as a JSON object."""

    def __init__(self, json_lines: bool = False) -> None:
        super().__init__()
        self.json_lines = json_lines

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        return f"{stamp}.{int(record.msecs):03d}Z"

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        request_id = getattr(record, "request_id", "-")
        trace = self.formatException(record.exc_info) if record.exc_info else ""
        if not self.json_lines:
            line = (
                f"{self.formatTime(record)} {record.levelname} [{request_id}] "
                f"{record.name}: {message}"
            )
            return f"{line}\n{trace}" if trace else line
        entry: dict[str, Any] = {
            "ts": self.formatTime(record),
            "level": record.levelname,
            "logger": record.name,
            "request_id": request_id,
            "message": message,
        }
        entry.update(getattr(record, "access", None) or {})
        if trace:
            entry["exc"] = trace
        return json.dumps(entry, ensure_ascii=False, separators=(",", ":"))


def logging_dict(level: str, fmt: str) -> dict[str, Any]:
    """The ``dictConfig`` of the gateway's logging (``logging.level``/``format``)."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {
            "request_id": {"()": RequestIdFilter},
            "escape": {"()": EscapingFilter},
        },
        "formatters": {
            "gateway": {"()": GatewayFormatter, "json_lines": fmt == "json"},
        },
        "handlers": {
            HANDLER: {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
                "formatter": "gateway",
                "filters": ["request_id", "escape"],
            }
        },
        "root": {"level": level.upper(), "handlers": [HANDLER]},
        "loggers": {
            "gunicorn.error": {
                "level": level.upper(),
                "handlers": [],
                "propagate": True,
            },
            "gunicorn.access": {
                "level": "CRITICAL",
                "handlers": [],
                "propagate": False,
            },
        },
    }


def configure(level: str, fmt: str) -> None:
    """Install the gateway's logging in this process."""
    logging.config.dictConfig(logging_dict(level, fmt))
