"""Image downloads for URL image parts: the SSRF guard, limits and redirects.

Nothing here uses the network: refusals happen before any connection (checked
with a listening socket that must see no connection), and downloads run against
a loopback server with a policy that allows 127.0.0.1 and nothing else.
"""

from __future__ import annotations

import socket
import time
from dataclasses import replace

import pytest
from werkzeug.wrappers import Request, Response

from antigravity_proxy.errors import InvalidRequest
from antigravity_proxy.media import (
    DEFAULT_POLICY,
    FetchPolicy,
    ImageRef,
    fetch_image,
    fetch_images,
    is_public_address,
)
from tests.fakes.cloudcode import serve

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 24
PARAM = "messages[0].content[1].image_url.url"


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "0.0.0.0",
        "100.64.0.1",
        "224.0.0.1",
        "240.0.0.1",
        "255.255.255.255",
        "::1",
        "::",
        "fe80::1",
        "fc00::1",
        "::ffff:127.0.0.1",
        "::ffff:10.0.0.1",
        "2002:7f00:1::1",
        "64:ff9b::a00:1",
        "not-an-address",
    ],
)
def test_non_public_addresses_are_refused(address):
    assert not is_public_address(address)


@pytest.mark.parametrize(
    "address", ["8.8.8.8", "93.184.216.34", "2606:4700:4700::1111", "::ffff:8.8.8.8"]
)
def test_public_addresses_are_allowed(address):
    assert is_public_address(address)


@pytest.fixture
def listener():
    """A loopback socket that must never see a connection."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        sock.setblocking(False)
        yield sock
        with pytest.raises(BlockingIOError):
            sock.accept()


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_loopback_is_refused_before_connecting(listener, host):
    port = listener.getsockname()[1]
    with pytest.raises(InvalidRequest) as info:
        fetch_image(ImageRef(f"http://{host}:{port}/cat.png", PARAM))
    assert info.value.param == PARAM
    assert info.value.status == 400
    assert "private, loopback, link-local or reserved" in info.value.message
    assert PARAM in info.value.message


def test_every_resolved_address_must_be_public(listener):
    port = listener.getsockname()[1]
    policy = replace(
        DEFAULT_POLICY, resolve=lambda host, port: ["93.184.216.34", "127.0.0.1"]
    )
    with pytest.raises(InvalidRequest, match="private, loopback"):
        fetch_image(ImageRef(f"http://pics.example:{port}/a.png", PARAM), policy)


def test_unresolvable_host_is_refused():
    def resolve(host, port):
        raise socket.gaierror("no such host")

    policy = replace(DEFAULT_POLICY, resolve=resolve)
    with pytest.raises(InvalidRequest, match="could not be resolved"):
        fetch_image(ImageRef("https://nowhere.example/a.png", PARAM), policy)


@pytest.mark.parametrize(
    "url", ["file:///etc/passwd", "ftp://example.com/a.png", "http:///a.png"]
)
def test_other_schemes_are_refused(url):
    with pytest.raises(InvalidRequest, match="only http and https"):
        fetch_image(ImageRef(url, PARAM))


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://[::1/a.png", "malformed"),
        ("http://[not-an-ip]/a.png", "malformed"),
        ("http://example.com:99999/a.png", "invalid port"),
    ],
)
def test_malformed_urls_are_refused_not_raised(url, reason):
    with pytest.raises(InvalidRequest, match=reason) as info:
        fetch_image(ImageRef(url, PARAM))
    assert info.value.param == PARAM


class ImageServer:
    """Loopback WSGI app: ``/<name>`` answers from ``routes``; records requests."""

    def __init__(self):
        self.seen: list[Request] = []
        self.routes = {
            "/cat.png": lambda: Response(PNG, mimetype="image/png"),
            "/plain": lambda: Response(PNG, mimetype="application/octet-stream"),
            "/page": lambda: Response("<html>", mimetype="text/html"),
            "/missing": lambda: Response("no", status=404),
            "/big": lambda: Response(b"\x89PNG" * 500, mimetype="image/png"),
            "/big-chunked": lambda: Response(
                (b"\x89PNG" * 50 for _ in range(10)), mimetype="image/png"
            ),
            "/relative": lambda: redirect("/cat.png"),
            "/to-metadata": lambda: redirect("http://169.254.169.254/latest"),
            "/loop": lambda: redirect("/loop"),
            "/slow": self._slow,
        }

    def __call__(self, environ, start_response):
        request = Request(environ)
        self.seen.append(request)
        return self.routes[request.path]()(environ, start_response)

    @staticmethod
    def _slow():
        def body():
            time.sleep(0.5)
            yield PNG

        return Response(body(), mimetype="image/png")


def redirect(location: str) -> Response:
    return Response("", status=302, headers={"Location": location})


@pytest.fixture
def server():
    app = ImageServer()
    with serve(app) as base:
        app.base = base
        yield app


LOOPBACK_ONLY = FetchPolicy(allowed=lambda address: address == "127.0.0.1")


def fetch(server, path, policy=LOOPBACK_ONLY):
    return fetch_image(ImageRef(server.base + path, PARAM), policy)


def test_image_is_downloaded_with_its_type(server):
    media = fetch(server, "/cat.png")
    assert (media.mime_type, media.data) == ("image/png", PNG)
    assert server.seen[0].headers["Host"] == server.base.removeprefix("http://")


def test_untyped_image_is_sniffed(server):
    assert fetch(server, "/plain").mime_type == "image/png"


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("/page", "not an image (Content-Type text/html)"),
        ("/missing", "HTTP 404"),
        ("/big", "larger than 1000 bytes"),
        ("/big-chunked", "larger than 1000 bytes"),
        ("/to-metadata", "private, loopback"),
        ("/loop", "more than 3 redirects"),
    ],
)
def test_download_refusals_name_the_part(server, path, reason):
    policy = replace(LOOPBACK_ONLY, max_bytes=1000)
    with pytest.raises(InvalidRequest) as info:
        fetch(server, path, policy)
    assert reason in info.value.message
    assert info.value.param == PARAM


def test_relative_redirect_is_followed(server):
    assert fetch(server, "/relative").data == PNG
    assert [r.path for r in server.seen] == ["/relative", "/cat.png"]


def test_slow_server_times_out(server):
    policy = replace(LOOPBACK_ONLY, read_timeout=0.1)
    with pytest.raises(InvalidRequest, match="timed out"):
        fetch(server, "/slow", policy)


def test_each_url_is_fetched_once(server):
    url = server.base + "/cat.png"
    fetched = fetch_images(
        [ImageRef(url, "input[0].content[1].image_url"), ImageRef(url, "input[2]")],
        LOOPBACK_ONLY,
    )
    assert list(fetched) == [url]
    assert len(server.seen) == 1
