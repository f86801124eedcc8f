"""Log lines that client text cannot forge or flood: one filter for every handler.

A model id holding ``\\r\\nX-Injected: 1`` wrote a second, forged log line; a
10 MB one wrote 10 MB. ``EscapingFilter`` renders each record's message once,
with every interpolated argument cut to ``ARG_MAX`` characters, then escapes
control characters (CR, LF, ESC, DEL...) as ``\\r``, ``\\n``, ``\\x1b``, and
stores the result as the record's message, so any formatter downstream prints
one line per record. Tracebacks (``exc_info``) are left to the formatter:
their newlines are the traceback's own.

``install`` attaches it to the root logger's handlers; call it where logging is
configured (the CLI, after ``basicConfig``), and again after adding handlers.
gunicorn configures its own error and access logs (the access log prints the
decoded request path, CR/LF included): ``GunicornLogger``, its ``logger_class``,
installs the filter there.
"""

from __future__ import annotations

import copy
import logging
import re
from collections.abc import Mapping
from typing import Any, Final

from gunicorn.glogging import Logger

ARG_MAX: Final = 2000
MESSAGE_MAX: Final = 8000
CONTROL: Final = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029]")
NAMED: Final[Mapping[str, str]] = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def escape(text: str, limit: int = MESSAGE_MAX) -> str:
    """``text`` on one line: control characters escaped, cut to ``limit``."""
    if len(text) > limit:
        text = f"{text[:limit]}...[{len(text) - limit} more characters]"
    return CONTROL.sub(_escaped, text)


def _escaped(match: re.Match[str]) -> str:
    char = match.group()
    return NAMED.get(char) or f"\\x{ord(char):02x}"


def _bounded(arg: Any) -> Any:
    """Arguments that render long are cut before they are interpolated."""
    if isinstance(arg, int | float | bool) or arg is None:
        return arg
    text = arg if isinstance(arg, str) else str(arg)
    if len(text) <= ARG_MAX:
        return arg
    return f"{text[:ARG_MAX]}...[{len(text) - ARG_MAX} more characters]"


def _bounded_mapping(args: Mapping[str, Any]) -> Mapping[str, Any]:
    """``args`` with long values cut, keeping its type and lookup rules.

    Why a copy of the same type: gunicorn's access log passes ``SafeAtoms``, a
    dict whose missing keys read as ``-``; a plain dict would raise instead.
    """
    cut = {key: _bounded(value) for key, value in args.items()}
    long = {key: value for key, value in cut.items() if value is not args[key]}
    if not long:
        return args
    out = copy.copy(args)
    if isinstance(out, dict):
        out.update(long)
        return out
    return {**args, **long}


class EscapingFilter(logging.Filter):
    """Rewrites each record's message as one bounded, escaped line."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "escaped", False):
            return True
        if isinstance(record.args, tuple):
            record.args = tuple(_bounded(arg) for arg in record.args)
        elif isinstance(record.args, Mapping):
            record.args = _bounded_mapping(record.args)
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            message = f"{record.msg!r} % {record.args!r}"
        record.msg = escape(message)
        record.args = None
        record.escaped = True
        return True


def install(logger: logging.Logger | None = None) -> None:
    """Attach one ``EscapingFilter`` to each handler of ``logger`` (root)."""
    for handler in (logger or logging.getLogger()).handlers:
        if not any(isinstance(f, EscapingFilter) for f in handler.filters):
            handler.addFilter(EscapingFilter())


class GunicornLogger(Logger):  # type: ignore[misc]
    """gunicorn's logger with ``EscapingFilter`` on its error and access logs."""

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        install(self.error_log)
        install(self.access_log)

    def access(self, resp: Any, req: Any, environ: Any, request_time: Any) -> None:
        """gunicorn's access line, only when its logger would print it.

        Why: gunicorn builds the line's two dozen atoms for every request once
        any logging config is set, even for a logger that drops the line; the
        gateway writes its own access line (``accesslog``) and leaves this one off.
        """
        if self.access_log.isEnabledFor(logging.INFO):
            super().access(resp, req, environ, request_time)
