"""A gateway revision to benchmark: this checkout, or an older commit provisioned once.

``provisioned(rev)`` extracts commit ``rev`` with ``git archive`` under
``.bench/rev-<shortsha>/`` and gives it its own virtual environment there
(``.venv``, the gateway's runtime requirements and the package installed
editable, as ``make run`` does: an old revision may read ``routes.yaml`` from
its checkout). A stamp file holding the full sha marks a finished install, so
later runs reuse it; a folder without the stamp (an interrupted install) is
removed and made again. Nothing is installed into the project's ``.venv``.

``imported_from`` asks an interpreter, started in a given working directory,
where ``antigravity_proxy`` comes from: ``python -m antigravity_proxy.cli``
imports a package found in its working directory before the installed one, so
the benchmark checks that each gateway runs the code it is named after.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Final

ROOT: Final = Path(__file__).resolve().parents[1]
BENCH_DIR: Final = ROOT / ".bench"
STAMP: Final = ".installed-stamp"


@dataclass(frozen=True)
class Revision:
    """A checkout of the gateway and the interpreter that runs it.

    ``label`` is the short sha, with ``+changes`` when the tree has uncommitted
    changes to tracked files; ``subject`` is the commit's first line.
    """

    label: str
    subject: str
    checkout: Path
    python: Path


def git(*args: str) -> str:
    """Output of ``git args`` in this checkout, stripped; raises on failure."""
    done = subprocess.run(
        ["git", *args], cwd=ROOT, check=True, capture_output=True, text=True
    )
    return done.stdout.strip()


def this_tree() -> Revision:
    """This checkout, run by this interpreter (the project's ``.venv``)."""
    label = git("rev-parse", "--short", "HEAD")
    if git("status", "--porcelain", "--untracked-files=no"):
        label += "+changes"
    subject = git("log", "-1", "--format=%s", "HEAD")
    return Revision(label, subject, ROOT, Path(sys.executable))


def provisioned(rev: str) -> Revision:
    """Commit ``rev`` extracted under ``.bench/`` with its own venv (made once)."""
    sha = git("rev-parse", "--verify", f"{rev}^{{commit}}")
    short = git("rev-parse", "--short", sha)
    checkout = BENCH_DIR / f"rev-{short}"
    python = checkout / ".venv" / "bin" / "python"
    stamp = checkout / ".venv" / STAMP
    if not (stamp.is_file() and stamp.read_text().strip() == sha):
        _install(sha, checkout)
        stamp.write_text(sha + "\n")
    subject = git("log", "-1", "--format=%s", sha)
    return Revision(short, subject, checkout, python)


def _install(sha: str, checkout: Path) -> None:
    """Extract ``sha`` into ``checkout`` (emptied first) and install it in a venv."""
    print(f"provisioning {sha[:12]} in {checkout} (once)", flush=True)
    shutil.rmtree(checkout, ignore_errors=True)
    checkout.mkdir(parents=True)
    archive = subprocess.Popen(
        ["git", "archive", "--format=tar", sha], cwd=ROOT, stdout=subprocess.PIPE
    )
    subprocess.run(["tar", "-x", "-C", str(checkout)], stdin=archive.stdout, check=True)
    if archive.wait() != 0:
        raise RuntimeError(f"git archive {sha} failed")
    venv = checkout / ".venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet"]
    subprocess.run(
        [*pip, "--disable-pip-version-check", "-e", str(checkout)], check=True
    )


def imported_from(python: Path, cwd: Path) -> Path:
    """The folder ``antigravity_proxy`` is imported from by ``python`` in ``cwd``."""
    code = "import antigravity_proxy; print(antigravity_proxy.__file__)"
    done = subprocess.run(
        [str(python), "-c", code], cwd=cwd, check=True, capture_output=True, text=True
    )
    return Path(done.stdout.strip()).resolve().parent


def check_runs_own_code(revision: Revision, cwd: Path) -> None:
    """Raise unless ``revision.python`` in ``cwd`` imports ``revision``'s package."""
    found = imported_from(revision.python, cwd)
    expected = (revision.checkout / "antigravity_proxy").resolve()
    if found != expected:
        raise RuntimeError(
            f"{revision.label}: antigravity_proxy imports from {found}, not {expected}"
        )
