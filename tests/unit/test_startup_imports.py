"""What ``serve`` imports before it answers: nothing it does not use.

redis-py (with asyncio under it) cost every gunicorn process ~8 MiB and, on
the 2-core box, a third of the start-up's imports, although most boxes keep
their state in SQLite; it is imported only when a Redis URL is configured.
"""

from __future__ import annotations

import subprocess
import sys

SCRIPT = """
import sys
from antigravity_proxy import cli, server, worker, wsgi
print("redis" in sys.modules)
"""


def test_serve_imports_no_redis_client_for_sqlite_state():
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "False"
