"""Downloads of the ``http(s)`` images a client names by URL, behind an SSRF guard.

The upstream (v1internal) never fetches URLs, so the OpenAI handlers download
``image_url`` / ``input_image`` URLs before translating and hand the bytes to the
pure translators. Fetching on a client's behalf lets a client make the gateway
reach anything the gateway can reach, so every hop is guarded: the host is
resolved here, *every* address it resolves to must be public (not private,
loopback, link-local, reserved, multicast or unspecified, also when wrapped in
IPv6), and the connection goes to the checked address itself, so a DNS answer
that changes between check and connect (rebinding) cannot sneak past. Redirects
are followed by hand, each hop checked again. Bodies are capped in size and time.
Every failure is an ``InvalidRequest`` naming the request part (``param``), as
OpenAI answers 400 for an image it cannot download.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Final
from urllib.parse import urljoin, urlsplit

import urllib3
from requests.utils import DEFAULT_CA_BUNDLE_PATH

from antigravity_proxy.errors import InvalidRequest
from antigravity_proxy.protocols.openai.images import sniff_image_type
from antigravity_proxy.protocols.openai.responses_types import FetchedMedia

MAX_IMAGE_BYTES: Final = 20 * 1024 * 1024
CHUNK_BYTES: Final = 64 * 1024
REDIRECT_STATUSES: Final = frozenset({301, 302, 303, 307, 308})
DEFAULT_PORTS: Final[Mapping[str, int]] = {"http": 80, "https": 443}
# Magic numbers of the formats OpenAI accepts, for servers that send no image type.
NAT64: Final = ipaddress.ip_network("64:ff9b::/96")
USER_AGENT: Final = "antigravity-proxy-image-fetch"

Resolver = Callable[[str, int], list[str]]


def resolve_host(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (IPv4 and IPv6)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


def is_public_address(address: str) -> bool:
    """Whether the gateway may connect to ``address`` for a client.

    Why the IPv6 unwrapping: ``::ffff:127.0.0.1``, 6to4 and NAT64 addresses reach
    an IPv4 host, so the embedded address must pass too.
    """
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return _public(ip.ipv4_mapped)
    candidates: list[ipaddress.IPv4Address | ipaddress.IPv6Address] = [ip]
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.sixtofour is not None:
            candidates.append(ip.sixtofour)
        if ip in NAT64:
            candidates.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    return all(_public(candidate) for candidate in candidates)


def _public(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    return ip.is_global and not (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_reserved
        or ip.is_multicast
        or ip.is_unspecified
    )


@dataclass(frozen=True, slots=True)
class ImageRef:
    """One image URL of a request and the request field that holds it."""

    url: str
    param: str


@dataclass(frozen=True, slots=True)
class FetchPolicy:
    """Limits of one download; tests swap ``resolve`` / ``allowed`` for fakes."""

    resolve: Resolver = field(default=resolve_host)
    allowed: Callable[[str], bool] = field(default=is_public_address)
    max_bytes: int = MAX_IMAGE_BYTES
    connect_timeout: float = 5.0
    read_timeout: float = 15.0
    total_timeout: float = 30.0
    max_redirects: int = 3


DEFAULT_POLICY: Final = FetchPolicy()


class _Refused(Exception):
    """Why one download failed, in words for the client."""


def fetch_images(
    refs: Iterable[ImageRef], policy: FetchPolicy = DEFAULT_POLICY
) -> dict[str, FetchedMedia]:
    """URL -> downloaded image, each distinct URL fetched once."""
    fetched: dict[str, FetchedMedia] = {}
    for ref in refs:
        if ref.url not in fetched:
            fetched[ref.url] = fetch_image(ref, policy)
    return fetched


def fetch_image(ref: ImageRef, policy: FetchPolicy = DEFAULT_POLICY) -> FetchedMedia:
    """The image at ``ref.url``, or ``InvalidRequest`` naming ``ref.param``."""
    deadline = time.monotonic() + policy.total_timeout
    url = ref.url
    try:
        for _ in range(policy.max_redirects + 1):
            location, media = _download(url, policy, deadline)
            if media is not None:
                return media
            url = urljoin(url, location)
        raise _Refused(f"more than {policy.max_redirects} redirects")
    except _Refused as exc:
        raise InvalidRequest(
            f"Failed to download the image at '{ref.param}': {exc}.", param=ref.param
        ) from exc


@dataclass(frozen=True, slots=True)
class _Target:
    """One URL taken apart: where to connect and what to ask for."""

    scheme: str
    host: str
    port: int
    path: str
    host_header: str


def _target(url: str) -> _Target:
    """Why ``ValueError`` is caught twice: ``urlsplit`` raises it for a malformed
    IPv6 host (``http://[::1``) and ``port`` for a port out of range."""
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        raise _Refused("the URL is malformed") from exc
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS or not parts.hostname:
        raise _Refused("only http and https URLs with a host can be fetched")
    try:
        port = parts.port or DEFAULT_PORTS[scheme]
    except ValueError as exc:
        raise _Refused("the URL has an invalid port") from exc
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    host_header = parts.netloc.rpartition("@")[2]
    return _Target(scheme, parts.hostname, port, path, host_header)


def _checked_addresses(target: _Target, policy: FetchPolicy) -> list[str]:
    """The host's addresses, all of them allowed, or ``_Refused``.

    Why all: a name resolving to one public and one private address would let
    the connection land on the private one.
    """
    try:
        ipaddress.ip_address(target.host)
        addresses = [target.host]
    except ValueError:
        try:
            addresses = policy.resolve(target.host, target.port)
        except OSError as exc:
            raise _Refused("the host name could not be resolved") from exc
    if not addresses:
        raise _Refused("the host name could not be resolved")
    if not all(policy.allowed(address) for address in addresses):
        raise _Refused(
            "the host is a private, loopback, link-local or reserved address"
        )
    return addresses


def _download(
    url: str, policy: FetchPolicy, deadline: float
) -> tuple[str, FetchedMedia | None]:
    """One hop: (redirect location, None) or ("", the image)."""
    target = _target(url)
    failure: Exception | None = None
    for address in _checked_addresses(target, policy):
        try:
            return _download_from(target, address, policy, deadline)
        except urllib3.exceptions.ConnectTimeoutError as exc:
            failure = exc
    raise _Refused("could not connect to the host") from failure


def _download_from(
    target: _Target, address: str, policy: FetchPolicy, deadline: float
) -> tuple[str, FetchedMedia | None]:
    """Connect to the checked ``address`` itself, never to the name again."""
    timeout = urllib3.Timeout(connect=policy.connect_timeout, read=policy.read_timeout)
    with _pool(target, address, timeout) as pool:
        try:
            response = pool.urlopen(
                "GET",
                target.path,
                headers={"Host": target.host_header, "User-Agent": USER_AGENT},
                redirect=False,
                retries=False,
                preload_content=False,
            )
        except urllib3.exceptions.ConnectTimeoutError:
            raise
        except urllib3.exceptions.HTTPError as exc:
            raise _Refused(_reason(exc)) from exc
        try:
            return _answer(response, policy, deadline)
        finally:
            response.close()


def _pool(
    target: _Target, address: str, timeout: urllib3.Timeout
) -> urllib3.HTTPConnectionPool:
    """A pool bound to ``address``; TLS still checks the certificate of the host."""
    if target.scheme == "http":
        return urllib3.HTTPConnectionPool(address, target.port, timeout=timeout)
    return urllib3.HTTPSConnectionPool(
        address,
        target.port,
        timeout=timeout,
        cert_reqs="CERT_REQUIRED",
        ca_certs=DEFAULT_CA_BUNDLE_PATH,
        server_hostname=target.host,
        assert_hostname=target.host,
    )


def _answer(
    response: urllib3.BaseHTTPResponse, policy: FetchPolicy, deadline: float
) -> tuple[str, FetchedMedia | None]:
    if response.status in REDIRECT_STATUSES:
        location = response.headers.get("Location")
        if not location:
            raise _Refused(f"HTTP {response.status} without a Location header")
        return location, None
    if response.status != 200:
        raise _Refused(f"the server answered HTTP {response.status}")
    data = _read_capped(response, policy.max_bytes, deadline)
    return "", FetchedMedia(
        _image_type(response.headers.get("Content-Type"), data), data
    )


def _read_capped(
    response: urllib3.BaseHTTPResponse, max_bytes: int, deadline: float
) -> bytes:
    """The body, refused past ``max_bytes`` or ``deadline`` (a trickling server)."""
    too_big = _Refused(f"the image is larger than {max_bytes} bytes")
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise too_big
    chunks: list[bytes] = []
    size = 0
    try:
        for chunk in response.stream(CHUNK_BYTES):
            size += len(chunk)
            if size > max_bytes:
                raise too_big
            if time.monotonic() > deadline:
                raise _Refused("the download took too long")
            chunks.append(chunk)
    except urllib3.exceptions.HTTPError as exc:
        raise _Refused(_reason(exc)) from exc
    return b"".join(chunks)


def _image_type(content_type: str | None, data: bytes) -> str:
    """The declared image type, else one sniffed from the bytes, else refused."""
    declared = (content_type or "").split(";", 1)[0].strip().lower()
    if declared.startswith("image/"):
        return declared
    sniffed = sniff_image_type(data)
    if sniffed is not None:
        return sniffed
    raise _Refused(f"the URL is not an image (Content-Type {declared or 'missing'})")


def _reason(exc: urllib3.exceptions.HTTPError) -> str:
    if isinstance(exc, urllib3.exceptions.TimeoutError):
        return "the download timed out"
    if isinstance(exc, urllib3.exceptions.SSLError):
        return "the TLS handshake failed"
    return "the connection failed"
