"""Crash-safe file writes shared by the config and the account store.

A reader must never see a half-written file: data goes to a temporary file in the
same directory, is fsynced, then renamed over the target (atomic on POSIX), and the
directory is fsynced so the rename itself survives a power cut.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_atomic(
    path: Path, data: bytes, *, mode: int = 0o600, keep_owner: bool = False
) -> None:
    """Replace ``path`` with ``data`` so that readers see the old or the new file.

    ``keep_owner``: the new file gets the old one's owner and group. Why: root
    editing a service's config (``sudo antigravity-proxy keys add``) must not
    leave a root-owned ``0600`` file the service can no longer read.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    owner = _owner(path) if keep_owner else None
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        if owner is not None:
            os.chown(tmp, *owner)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def _owner(path: Path) -> tuple[int, int] | None:
    """The file's (uid, gid) when it differs from a new file's, else None."""
    try:
        info = path.stat()
    except FileNotFoundError:
        return None
    if (info.st_uid, info.st_gid) == (os.geteuid(), os.getegid()):
        return None
    return info.st_uid, info.st_gid


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
