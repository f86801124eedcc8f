"""deploy/antigravity-proxy.service: hardened, consistent with the CLI, verified by systemd.

``systemd-analyze`` is provisioned by ``make test`` (Makefile); the test fails
rather than skips without it.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path, PurePosixPath

import pytest

from antigravity_proxy.cli import build_parser

UNIT = Path(__file__).resolve().parents[2] / "deploy" / "antigravity-proxy.service"
MAX_EXPOSURE = 2.0  # systemd-analyze security: 0 (locked down) .. 10 (exposed)


def parse_unit(text: str) -> dict[str, list[tuple[str, str]]]:
    """Sections of a unit file as (key, value) lists; keys may repeat."""
    sections: dict[str, list[tuple[str, str]]] = {}
    current = None
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            current = sections.setdefault(line.strip("[]"), [])
            continue
        key, sep, value = line.partition("=")
        assert current is not None and sep, f"stray line {line!r}"
        current.append((key.strip(), value.strip()))
    return sections


@pytest.fixture(scope="module")
def unit():
    return parse_unit(UNIT.read_text(encoding="utf-8"))


def values(unit, section: str, key: str) -> list[str]:
    return [v for k, v in unit[section] if k == key]


def one(unit, section: str, key: str) -> str:
    found = values(unit, section, key)
    assert len(found) == 1, (key, found)
    return found[0]


HARDENING = {
    "NoNewPrivileges": "yes",
    "ProtectSystem": "strict",
    "ProtectHome": "yes",
    "PrivateTmp": "yes",
    "PrivateDevices": "yes",
    "ProtectKernelTunables": "yes",
    "ProtectKernelModules": "yes",
    "ProtectControlGroups": "yes",
    "RestrictSUIDSGID": "yes",
    "CapabilityBoundingSet": "",
    "UMask": "0077",
}


@pytest.mark.parametrize(("key", "wanted"), HARDENING.items())
def test_unit_hardening_option(unit, key, wanted):
    assert one(unit, "Service", key) == wanted


def test_unit_runs_as_a_dedicated_user_never_root(unit):
    user = one(unit, "Service", "User")
    assert user == "antigravity-proxy" == one(unit, "Service", "Group")


def test_unit_exec_start_is_the_console_script_serving_a_config(unit):
    command = shlex.split(one(unit, "Service", "ExecStart"))
    assert PurePosixPath(command[0]).is_absolute()
    assert PurePosixPath(command[0]).name == "antigravity-proxy"
    args = build_parser().parse_args(command[1:])
    assert args.command == "serve"
    data_dir = PurePosixPath("/var/lib") / one(unit, "Service", "StateDirectory")
    assert PurePosixPath(args.config).parent == data_dir
    # The data dir is the only writable place, and the gateway's home.
    assert one(unit, "Service", "ReadWritePaths") == str(data_dir)
    assert f"ANTIGRAVITY_PROXY_HOME={data_dir}" in values(
        unit, "Service", "Environment"
    )
    assert one(unit, "Service", "StateDirectoryMode") == "0700"


def test_unit_stops_gracefully_and_restarts_on_failure(unit):
    assert one(unit, "Service", "KillSignal") == "SIGTERM"
    assert int(one(unit, "Service", "TimeoutStopSec")) > 30  # gunicorn graceful_timeout
    assert one(unit, "Service", "Restart") == "on-failure"
    assert one(unit, "Install", "WantedBy") == "multi-user.target"


@pytest.fixture(scope="module")
def verifiable(tmp_path_factory):
    """The unit with ExecStart pointing at this venv's console script.

    Why: ``verify`` checks that the executable exists, and /opt is not installed
    here; nothing else in the file changes.
    """
    tool = shutil.which("systemd-analyze")
    assert tool, "systemd-analyze is missing: `make test` installs the systemd package"
    script = Path(sys.executable).with_name("antigravity-proxy")
    assert script.exists(), script
    text = UNIT.read_text(encoding="utf-8")
    text, count = re.subn(
        r"^ExecStart=\S+", f"ExecStart={script}", text, flags=re.MULTILINE
    )
    assert count == 1
    path = tmp_path_factory.mktemp("unit") / UNIT.name
    path.write_text(text, encoding="utf-8")
    return tool, path


def test_unit_passes_systemd_analyze_verify(verifiable):
    tool, path = verifiable
    result = subprocess.run(
        [tool, "verify", str(path)], capture_output=True, text=True, timeout=60
    )
    # verify exits 0 on an unknown key or a bad value, but names the file: any
    # line about our unit is a defect.
    about_unit = [line for line in result.stderr.splitlines() if path.name in line]
    assert result.returncode == 0, result.stderr
    assert about_unit == []


def test_unit_exposure_is_low(verifiable):
    tool, path = verifiable
    result = subprocess.run(
        [tool, "security", "--offline=yes", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    found = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", result.stdout)
    assert found, result.stdout + result.stderr
    assert float(found.group(1)) <= MAX_EXPOSURE, result.stdout
