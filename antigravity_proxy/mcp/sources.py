"""Image and video sources for the vision tools, under the local-file policy.

A source is a ``data:`` URL, an ``https://`` URL (z.ai fetches it; one naming
``localhost`` or a literal non-public address is refused), or an absolute path
to a file under one of ``zai.mcp.allowed_dirs``. Paths are resolved (symlinks
followed) before the check, the file is opened without
following a final symlink, and on Linux the opened descriptor's real path is
checked again, so a symlink swapped in between cannot leak a file from outside.
No allowed directories (the default) means no local files at all. Problems are
``SourceError`` whose message is safe to show to the model: a path outside the
allowed directories is refused the same way whether it exists or not.
"""

from __future__ import annotations

import base64
import ipaddress
import os
import socket
import stat
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final, Literal
from urllib.parse import urlsplit

from antigravity_proxy.media import is_public_address

MediaKind = Literal["image", "video"]

MIME_TYPES: Final = {
    "image": {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg"},
    "video": {".mp4": "video/mp4", ".mov": "video/quicktime", ".m4v": "video/x-m4v"},
}
SIZE_LIMITS: Final = {"image": 5 * 1024 * 1024, "video": 8 * 1024 * 1024}


class SourceError(ValueError):
    """A source the tool cannot use; the message says why."""


def media_part(
    source: str, kind: MediaKind, allowed_dirs: Sequence[str]
) -> dict[str, Any]:
    """An OpenAI-style content part (``image_url`` / ``video_url``) for ``source``."""
    source = source.strip()
    if source.startswith("data:"):
        if not source.startswith(f"data:{kind}/") or ";base64," not in source:
            raise SourceError(f"a data URL must be data:{kind}/...;base64,...")
        url = source
    elif source.lower().startswith("https://"):
        url = public_https_url(source)
    elif source.lower().startswith("http://"):
        raise SourceError("only https URLs are accepted")
    else:
        url = _data_url(allowed_file(source, allowed_dirs), kind)
    part = f"{kind}_url"
    return {"type": part, part: {"url": url}}


def public_https_url(url: str) -> str:
    """``url`` unless its host is a name or address that is not public.

    z.ai fetches the URL from its own network, so the gateway resolves nothing
    (its DNS answer would not be z.ai's); it refuses only what is non-public on
    any network: ``localhost`` names and literal private, loopback, link-local
    or reserved addresses (also in the legacy forms ``127.1``, ``2130706433``
    that some fetchers accept), the same rule as ``media.is_public_address``.
    """
    try:
        host = (urlsplit(url).hostname or "").rstrip(".")
    except ValueError:
        host = ""
    if not host:
        raise SourceError("the https URL has no valid host")
    if host == "localhost" or host.endswith(".localhost"):
        raise SourceError("the https URL names a local host")
    address = _literal_address(host)
    if address is not None and not is_public_address(address):
        raise SourceError(
            "the https URL names a private, loopback, link-local or reserved address"
        )
    return url


def _literal_address(host: str) -> str | None:
    """``host`` as an IP address when it is one (IPv6, dotted or legacy IPv4)."""
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        pass
    if not all(c.isascii() and (c.isalnum() or c == ".") for c in host):
        return None
    try:
        return socket.inet_ntoa(socket.inet_aton(host))
    except OSError:
        return None


def allowed_file(source: str, allowed_dirs: Sequence[str]) -> Path:
    """The resolved path of ``source`` if it lies under an allowed directory."""
    if not allowed_dirs:
        raise SourceError(
            "local files are not enabled on this gateway (zai.mcp.allowed_dirs); "
            "pass an https URL or a data URL"
        )
    if "\x00" in source:
        raise SourceError("a local path must not contain a NUL character")
    candidate = Path(source).expanduser()
    if not candidate.is_absolute():
        raise SourceError("a local file must be given as an absolute path")
    resolved = candidate.resolve()
    if not _inside(resolved, allowed_dirs):
        raise SourceError(f"{source} is outside the allowed directories")
    return resolved


def _inside(path: Path, allowed_dirs: Sequence[str]) -> bool:
    roots = [Path(d).expanduser().resolve() for d in allowed_dirs]
    return any(path.is_relative_to(root) for root in roots)


def _data_url(path: Path, kind: MediaKind) -> str:
    mime = MIME_TYPES[kind].get(path.suffix.lower())
    if mime is None:
        allowed = ", ".join(sorted(MIME_TYPES[kind]))
        raise SourceError(f"unsupported {kind} format {path.suffix!r}: use {allowed}")
    data = _read_limited(path, SIZE_LIMITS[kind])
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def _read_limited(path: Path, limit: int) -> bytes:
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise SourceError(f"{path} does not exist") from None
    except OSError as exc:
        raise SourceError(f"{path} cannot be opened: {exc.strerror}") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise SourceError(f"{path} is not a regular file")
        if not _same_file(fd, path):
            raise SourceError(f"{path} changed while it was being opened")
    except BaseException:
        os.close(fd)
        raise
    with os.fdopen(fd, "rb") as file:
        data = file.read(limit + 1)
    if len(data) > limit:
        raise SourceError(f"{path} is larger than {limit // (1024 * 1024)} MB")
    return data


def _same_file(fd: int, path: Path) -> bool:
    """Whether the descriptor still names ``path`` (Linux ``/proc``; else assume)."""
    proc = Path(f"/proc/self/fd/{fd}")
    try:
        return Path(os.readlink(proc)) == path
    except OSError:
        return True
