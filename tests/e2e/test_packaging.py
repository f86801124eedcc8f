"""The package as a user installs it: a wheel in a fresh venv can list routes and serve.

Why: a non-editable ``pip install .`` once gave a gateway that could not start
(``routes.yaml`` was not packaged). The wheel is built from this checkout without
build isolation (setuptools and wheel come from the test extras, so no download)
and installed with ``--no-deps`` into a new venv; the runtime dependencies are
borrowed from the running interpreter through a ``.pth`` line, which adds that
directory to ``sys.path`` without processing its own ``.pth`` files, so the
checkout's editable install stays invisible and only the wheel can answer.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import sysconfig
import time
import zipfile
from pathlib import Path

import pytest
import requests
import yaml

from antigravity_proxy.routing import DEFAULT_ROUTES_FILE
from tests.e2e.conftest import free_port

pytestmark = pytest.mark.e2e

CHECKOUT = Path(__file__).resolve().parents[2]
LOCAL_ONLY = shutil.ignore_patterns(
    ".git",
    ".venv",
    "build",
    "dist",
    "*.egg-info",
    "__pycache__",
    ".*_cache",
    ".coverage",
)


def run(*command, **options) -> subprocess.CompletedProcess:
    return subprocess.run(
        command, capture_output=True, text=True, timeout=240, check=False, **options
    )


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """A fresh venv holding only the wheel built from this checkout."""
    work = tmp_path_factory.mktemp("packaging")
    wheels = work / "wheels"
    # A clean copy: an in-tree build would reuse (and leave) build/ and egg-info.
    source = work / "source"
    shutil.copytree(CHECKOUT, source, symlinks=True, ignore=LOCAL_ONLY)
    built = run(
        sys.executable,
        "-m",
        "pip",
        "wheel",
        "--no-deps",
        "--no-build-isolation",
        "--disable-pip-version-check",
        "-w",
        str(wheels),
        str(source),
        cwd=work,
    )
    assert built.returncode == 0, built.stdout + built.stderr
    (wheel,) = wheels.glob("antigravity_proxy-*.whl")
    venv = work / "venv"
    made = run(sys.executable, "-m", "venv", "--without-pip", str(venv))
    assert made.returncode == 0, made.stderr
    python = venv / "bin" / "python"
    pip = [sys.executable, "-m", "pip", "--python", str(python)]
    done = run(*pip, "install", "--no-deps", "--disable-pip-version-check", str(wheel))
    assert done.returncode == 0, done.stdout + done.stderr
    site = run(
        str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"
    )
    deps = sysconfig.get_path("purelib")
    (Path(site.stdout.strip()) / "borrowed_deps.pth").write_text(deps + "\n")
    return venv


def child_env(home: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("ANTIGRAVITY_PROXY_", "PYTHON"))
    }
    env.pop("PORT", None)
    env["ANTIGRAVITY_PROXY_HOME"] = str(home)
    return env


def write_config(home: Path) -> Path:
    home.mkdir(parents=True, exist_ok=True)
    path = home / "config.yaml"
    data = {"home": str(home), "proxy": {"api_key": "sk-pkg", "auth_mode": "auto"}}
    path.write_text(yaml.safe_dump(data))
    return path


def test_the_wheel_ships_the_route_table(installed):
    (wheel,) = installed.parent.joinpath("wheels").glob("*.whl")
    with zipfile.ZipFile(wheel) as archive:
        shipped = archive.read("antigravity_proxy/routes.yaml")
    assert shipped == DEFAULT_ROUTES_FILE.read_bytes()


def test_the_installed_package_is_the_wheel_not_the_checkout(installed, tmp_path):
    found = run(
        str(installed / "bin" / "python"),
        "-c",
        "import antigravity_proxy.routing as r; print(r.__file__); "
        "print(r.DEFAULT_ROUTES_FILE)",
        cwd=tmp_path,
        env=child_env(tmp_path / "home"),
    )
    assert found.returncode == 0, found.stderr
    module, routes = found.stdout.split()
    assert module.startswith(str(installed)), module
    assert routes.startswith(str(installed)) and Path(routes).is_file()


def test_installed_routes_command_lists_the_table(installed, tmp_path):
    home = tmp_path / "home"
    config = write_config(home)
    listed = run(
        str(installed / "bin" / "antigravity-proxy"),
        "--config",
        str(config),
        "routes",
        cwd=tmp_path,
        env=child_env(home),
    )
    assert listed.returncode == 0, listed.stdout + listed.stderr
    assert "/v1/messages" in listed.stdout
    assert "/v1/chat/completions" in listed.stdout


def test_installed_serve_answers_healthz(installed, tmp_path):
    home = tmp_path / "home"
    config = write_config(home)
    port = free_port()
    log = tmp_path / "serve.log"
    command = [
        str(installed / "bin" / "antigravity-proxy"),
        "--config",
        str(config),
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
    ]
    with open(log, "wb") as out:
        process = subprocess.Popen(
            command,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=tmp_path,
            env=child_env(home),
        )
    try:
        status = None
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and process.poll() is None:
            try:
                url = f"http://127.0.0.1:{port}/healthz"
                with requests.get(url, timeout=1) as answer:
                    status = answer.status_code
                    break
            except requests.ConnectionError:
                time.sleep(0.2)
        assert status == 200, log.read_text(errors="replace")
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)


def test_the_checkout_route_table_is_the_packaged_one():
    # One file: the top-level routes.yaml people edit is a link to the package's.
    top = CHECKOUT / "routes.yaml"
    assert top.is_symlink()
    assert top.resolve() == DEFAULT_ROUTES_FILE.resolve()


def test_make_run_installs_no_test_or_dev_extras(tmp_path):
    planned = run("make", "-n", "run", f"VENV={tmp_path / 'venv'}", cwd=CHECKOUT)
    assert planned.returncode == 0, planned.stderr
    installs = [line for line in planned.stdout.splitlines() if "pip install" in line]
    assert installs and all(line.rstrip().endswith(" -e .") for line in installs)
    assert "[test" not in planned.stdout and "dev]" not in planned.stdout
