"""Redis URLs: what the config accepts, and the only form that may be printed.

A ``state.url`` such as ``rediss://:s3cret@cache.internal:6380/0`` carries a
password. ``url_problem`` checks it without ever quoting it (config errors are
printed and logged), and ``redacted`` is the form for logs, the banner and
error messages: the user name and password become ``***``.
"""

from __future__ import annotations

from typing import Any, Final
from urllib.parse import SplitResult, urlsplit

SCHEMES: Final = ("redis", "rediss", "unix")


def url_problem(url: str) -> str | None:
    """What is wrong with ``url`` as a redis-py URL, or ``None``; never quotes it."""
    if not url.strip():
        return "expected a Redis URL such as redis://host:6379/0, got nothing"
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return "not a valid URL (check the host and the port)"
    if parts.scheme not in SCHEMES:
        return f"expected a URL starting with {', '.join(s + '://' for s in SCHEMES)}"
    if parts.scheme == "unix":
        return None if parts.path else "a unix:// URL needs a socket path"
    if not parts.hostname:
        return "the URL names no host"
    if port == 0:
        return "the URL's port must be 1-65535"
    return _db_problem(parts) or _options_problem(url)


def _db_problem(parts: SplitResult) -> str | None:
    db = parts.path.strip("/")
    if db and not db.isdigit():
        return "the URL's path must be a database number, such as /0"
    return None


def _options_problem(url: str) -> str | None:
    """redis-py's own reading of the query options (``?ssl_ca_certs=...``)."""
    # Imported only for a Redis URL: redis-py costs every process ~8 MiB.
    from redis.connection import parse_url

    reader: Any = parse_url
    try:
        reader(url)
    except ValueError as exc:
        return f"the URL's options: {str(exc).rstrip('.')}"
    return None


def redacted(url: str) -> str:
    """``url`` with its credentials replaced by ``***`` (whole URL if unparsable)."""
    try:
        parts = urlsplit(url)
        netloc = parts.netloc
    except ValueError:
        return "<unparsable URL>"
    if "@" not in netloc:
        return url
    host = netloc.rpartition("@")[2]
    return parts._replace(netloc=f"***@{host}").geturl()
