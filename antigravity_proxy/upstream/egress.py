"""Per-account egress: the optional ``proxy_url`` an account's calls leave through.

An account file may carry ``proxy_url`` (``http://``, ``https://``, ``socks5://``
or ``socks5h://``, credentials allowed as ``user:pass@``). Every call made for
that account, the OAuth token refresh and userinfo, ``loadCodeAssist``,
``fetchAvailableModels`` and each generation call, goes through it; an account
without one goes direct, or through the environment's proxy unless ``NO_PROXY``
names the host (`EnvironmentRoutes`).

This module owns what a valid proxy URL is, how it is shown (`redact`: never
the credentials), and the ``requests`` settings that send a call through it.
An account whose proxy is set never falls back to another route: the
environment's ``no_proxy`` and proxy variables are ignored for it, because
leaving through the wrong address is what the user set the proxy to avoid.
"""

from __future__ import annotations

import functools
import os
import threading
import urllib.request
from collections.abc import Iterable, Mapping
from typing import Final
from urllib.parse import SplitResult, urlsplit, urlunsplit

import requests
from requests.adapters import HTTPAdapter
from requests.utils import get_auth_from_url

SCHEMES: Final = ("http", "https", "socks5", "socks5h")


class EnvironmentRoutes:
    """The environment's proxy for each target host, ``NO_PROXY`` honoured.

    What ``requests`` does with ``trust_env`` on every call (scan ``os.environ``,
    match the host against ``no_proxy``: about 0.4 ms on the hot path), done once
    per target host: the proxies are read when this is made and the verdict for
    each host is kept. The hosts a gateway calls are its few configured base URLs;
    the memory is capped all the same.
    """

    MAX_HOSTS: Final = 256

    def __init__(self) -> None:
        self.proxies: Final = {
            scheme: url
            for scheme, url in urllib.request.getproxies().items()
            if scheme in ("http", "https", "all")
        }
        self._by_host: dict[str, dict[str, str]] = {}

    def for_url(self, url: str) -> dict[str, str]:
        """``send``'s ``proxies`` for ``url``: the environment's or none (read only)."""
        if not self.proxies:
            return self.proxies
        host = urlsplit(url).netloc.rpartition("@")[2]
        found = self._by_host.get(host)
        if found is None:
            bypass = requests.utils.should_bypass_proxies(url, no_proxy=None)
            found = {} if bypass else self.proxies
            if len(self._by_host) < self.MAX_HOSTS:
                self._by_host[host] = found
        return found


class ProxyUrlError(ValueError):
    """Not a usable proxy URL; the message never repeats the URL (credentials)."""


def normalize_proxy_url(text: str) -> str:
    """A checked proxy URL; ``host:port`` alone means ``http://host:port``.

    Why the default scheme: users of the peer tools write ``127.0.0.1:7890``,
    and Antigravity-Manager reads that as an HTTP proxy too.
    """
    text = text.strip()
    if not text:
        raise ProxyUrlError("proxy URL is empty")
    parts = _split("http://" + text if "://" not in text else text)
    if parts.scheme.lower() not in SCHEMES:
        raise ProxyUrlError(f"proxy URL scheme must be one of {', '.join(SCHEMES)}")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ProxyUrlError("proxy URL takes no path, query or fragment")
    return urlunsplit((parts.scheme.lower(), parts.netloc, "", "", ""))


def _split(text: str) -> SplitResult:
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        raise ProxyUrlError("proxy URL has an invalid port") from None
    if not parts.hostname:
        raise ProxyUrlError("proxy URL has no host")
    if port == 0:
        raise ProxyUrlError("proxy URL has an invalid port")
    return parts


def redact(proxy_url: str) -> str:
    """The URL to show in lists and logs: credentials become ``***``."""
    if not proxy_url:
        return ""
    parts = urlsplit(proxy_url)
    if "@" not in parts.netloc:
        return proxy_url
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, "***@" + host, parts.path, "", ""))


def proxies_for(proxy_url: str) -> dict[str, str] | None:
    """The ``proxies=`` argument for one call: the account's proxy, or None."""
    return {"http": proxy_url, "https": proxy_url} if proxy_url else None


def egress_session(proxy_url: str) -> requests.Session:
    """A session for one account's OAuth calls, leaving through its proxy.

    Without a proxy this is a plain session (environment proxies honoured, as
    before); with one, the environment is ignored so nothing bypasses it.
    """
    session = requests.Session()
    proxies = proxies_for(proxy_url)
    if proxies is not None:
        session.trust_env = False
        session.proxies.update(proxies)
    return session


POOL_SIZE: Final = 1024
"""Idle upstream connections a worker keeps per host: above the default threads
(768), so a burst's connections are all kept for the calls after it."""


class SharedSession:
    """One ``requests`` session for every thread of this process, made on first use.

    Why shared: a connection a finished call gave back serves whichever thread
    calls next (urllib3's pool hands out the most recently returned one), so a
    stream after a stream skips the TCP and TLS handshakes. With a session per
    thread, the request threads taking calls in turn rarely met their own idle
    connection again. Why per process: a pool made before a fork would hand the
    same socket to two workers, so a forked child makes its own.

    It never reads the environment itself: each call names its proxies (`route`),
    so ``requests`` does not scan ``os.environ`` per call.
    """

    def __init__(self, pool_size: int = POOL_SIZE) -> None:
        self.pool_size = pool_size
        self._session: requests.Session | None = None
        self._pid = 0
        self._lock = threading.Lock()

    def get(self) -> requests.Session:
        session = self._session
        if session is not None and self._pid == os.getpid():
            return session
        with self._lock:
            if self._session is None or self._pid != os.getpid():
                self._session = self._new()
                self._pid = os.getpid()
            return self._session

    def _new(self) -> requests.Session:
        session = requests.Session()
        session.trust_env = False
        adapter = HTTPAdapter(pool_maxsize=self.pool_size)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        return session


def route(environment: EnvironmentRoutes, url: str, proxy_url: str) -> dict[str, str]:
    """The ``proxies`` of one call: the account's proxy, else the environment's."""
    return proxies_for(proxy_url) or environment.for_url(url)


def prepared(
    session: requests.Session,
    method: str,
    url: str,
    data: bytes | Iterable[bytes] | None,
    headers: Mapping[str, str],
) -> requests.PreparedRequest:
    """A request for ``session.send``: what ``session.request`` would send, cheaply.

    Why not ``session.post``: ``Session.request`` merges the session's settings
    into every call through ``isinstance`` checks against runtime Protocols
    (requests 2.33+), about 0.2 ms a call on Python 3.11, for settings this
    gateway never uses (params, cookies, auth, hooks). The session's default
    headers (``User-Agent``, ``Accept-Encoding``...) still go first, overridden
    by ``headers`` whatever their case, and ``prepare``'s own steps still check
    the URL (once per URL) and every header value (no line breaks reach the wire).
    """
    request = requests.PreparedRequest()
    # ``prepare``'s steps, in its order, with the URL's share looked up.
    request.prepare_method(method)
    request.url, credentials = _prepared_url(url)
    request.prepare_headers({**session.headers, **headers})
    request.prepare_cookies(None)
    request.prepare_body(data, None)
    if credentials:
        request.prepare_auth(None, url)
    request.prepare_hooks(None)
    return request


@functools.lru_cache(maxsize=256)
def _prepared_url(url: str) -> tuple[str, bool]:
    """``url`` as ``prepare`` writes it, and whether it carries credentials.

    Why cached: the gateway calls a handful of URLs (base URL x method), and
    parsing, IDNA-checking and requoting one cost about a third of a POST's
    preparation, on every upstream call. A URL ``prepare`` refuses raises here
    each time, as it did (exceptions are not cached).
    """
    probe = requests.PreparedRequest()
    probe.prepare_url(url, None)
    prepared = str(probe.url)
    return prepared, any(get_auth_from_url(prepared))
