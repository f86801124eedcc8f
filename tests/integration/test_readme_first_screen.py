"""README's first screen leads to a first success (issue 14.9), with the exact
command the CLI itself tells a person to run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
README = (REPO / "README.md").read_text(encoding="utf-8")
FIRST_SCREEN = "\n".join(README.splitlines()[:20])


def test_first_screen_has_the_two_commands_an_account_and_claude_code():
    block = FIRST_SCREEN.split("```sh\n", 1)[1].split("```", 1)[0].splitlines()
    assert block[0].startswith("make run ")
    assert block[1].startswith("make test ")
    assert block[2].startswith(".venv/bin/antigravity-proxy accounts login ")
    assert block[3].startswith("ANTHROPIC_BASE_URL=http://127.0.0.1:8045 ")
    assert block[3].split("#")[0].rstrip().endswith(" claude")
    assert len(block) <= 5


def test_status_table_and_protocol_notes_come_after_the_first_success():
    assert "## Status" not in FIRST_SCREEN and "OpenAI notes" not in FIRST_SCREEN
    assert README.index("## Status") > README.index("## Client recipes")


def test_readme_names_the_command_the_cli_prints(tmp_path):
    script = Path(sys.prefix) / "bin" / "antigravity-proxy"
    if Path(sys.prefix).resolve() != (REPO / ".venv").resolve():
        pytest.skip("runs only from the repository's own .venv (make test)")
    path = os.pathsep.join(
        p
        for p in os.environ.get("PATH", "").split(os.pathsep)
        if Path(p) != script.parent
    )
    env = {"PATH": path, "HOME": str(tmp_path)}
    result = subprocess.run(
        [str(script), "accounts", "list"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == (
        'no accounts yet: run ".venv/bin/antigravity-proxy accounts login"'
    )
    assert ".venv/bin/antigravity-proxy accounts login" in FIRST_SCREEN
