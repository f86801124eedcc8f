"""What ``serve`` prints once gunicorn listens, and how to call this command.

``command_name`` is how a person on this box runs the CLI: ``antigravity-proxy``
when that name on ``$PATH`` is this installation, else the path of the script
(``.venv/bin/antigravity-proxy`` after ``make run``).
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import Final

SCRIPT: Final = "antigravity-proxy"


def command_name() -> str:
    """``antigravity-proxy`` if ``$PATH`` finds this install's script, else its path."""
    script = Path(sys.prefix) / "bin" / SCRIPT
    found = shutil.which(SCRIPT)
    if found and Path(found).resolve() == script.resolve():
        return SCRIPT
    try:
        return (
            os.path.relpath(script)
            if script.is_relative_to(Path.cwd())
            else str(script)
        )
    except (OSError, ValueError):
        return str(script)
