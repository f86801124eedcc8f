"""Per-teammate keys: accepted like the main key, named in the environ, revocable live."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys

import pytest
import yaml
from werkzeug.test import Client

from antigravity_proxy.apikeys import fingerprint
from antigravity_proxy.auth import KEY_NAME_ENVIRON
from antigravity_proxy.cli import main
from antigravity_proxy.config import load_config
from antigravity_proxy.exchange import ENVIRON_KEY
from antigravity_proxy.wsgi import create_app
from tests.conftest import API_KEY, write_config
from tests.integration.test_auth import CARRIERS, TARGETS, expected_open, present

ALICE_KEY = "sk-alice-0123456789abcdef0123"
BOB_KEY = "sk-bob-0123456789abcdef012345"
TEAM = [{"name": "alice", "key": ALICE_KEY}, {"name": "bob", "key": BOB_KEY}]
MODES = ["off", "strict", "all_except_health", "auto"]


class Recorder:
    """Wraps the app and keeps the key name each request's environ ended with."""

    def __init__(self, app):
        self.app = app
        self.names: list[str | None] = []

    def __call__(self, environ, start_response):
        result = self.app(environ, start_response)
        name = environ.get(KEY_NAME_ENVIRON)
        assert environ[ENVIRON_KEY].key_name == name  # the Exchange knows it too
        self.names.append(name)
        return result


@pytest.fixture
def team(tmp_path):
    def make(mode: str = "strict", keys=TEAM):
        path = write_config(
            tmp_path / "home",
            {"proxy": {"api_key": API_KEY, "api_keys": keys, "auth_mode": mode}},
        )
        recorder = Recorder(create_app(load_config(path, env={}), background=False))
        return Client(recorder), recorder, path

    return make


NAMED = {"alice": ALICE_KEY, "bob": BOB_KEY, "main": API_KEY}


@pytest.mark.parametrize(
    ("mode", "carrier", "target", "who"),
    list(itertools.product(MODES, CARRIERS, TARGETS, NAMED)),
)
def test_named_key_accepted_like_the_main_key(team, mode, carrier, target, who):
    client, recorder, _ = team(mode)
    path, method = TARGETS[target]
    headers, query = present(carrier, NAMED[who])
    response = client.open(
        path, method=method, headers=headers, query_string=query, json={}
    )
    if expected_open(mode, carrier, target, "right"):
        assert response.status_code != 401
    else:
        assert response.status_code == 401
    # The name is recorded whenever the key was actually read from its carrier.
    honoured = carrier != "query" or target == "protected"
    assert recorder.names == [who if honoured else None]


def test_wrong_key_is_refused_and_names_nobody(team):
    client, recorder, _ = team("strict")
    response = client.get("/v1beta/models", headers={"x-goog-api-key": ALICE_KEY + "x"})
    assert response.status_code == 401
    assert recorder.names == [None]


def run_cli(path, *args):
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "antigravity_proxy.cli",
            "--config",
            str(path),
            "keys",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin"},
    )


def test_keys_add_list_revoke_via_the_command(tmp_path):
    path = write_config(tmp_path / "home", {"proxy": {"api_key": API_KEY}})
    path.write_text("# my notes\n" + path.read_text() + "# tail\n")

    added = run_cli(path, "add", "carol")
    assert added.returncode == 0, added.stderr
    key = added.stdout.strip()
    assert key.startswith("sk-") and "\n" not in key  # stdout is the key alone
    assert "added key 'carol'" in added.stderr and "no restart needed" in added.stderr
    assert fingerprint(key) in added.stderr and key not in added.stderr
    text = path.read_text()
    assert text.startswith("# my notes\n") and text.endswith("# tail\n")
    assert load_config(path, env={}).proxy.api_keys[0].key == key

    listed = run_cli(path, "list")
    assert listed.returncode == 0
    assert "carol" in listed.stdout and fingerprint(key) in listed.stdout
    assert key not in listed.stdout and API_KEY not in listed.stdout
    as_json = json.loads(run_cli(path, "list", "--json").stdout)
    assert as_json == [
        {
            "name": "main",
            "fingerprint": fingerprint(API_KEY),
            "source": "proxy.api_key",
        },
        {"name": "carol", "fingerprint": fingerprint(key), "source": "proxy.api_keys"},
    ]

    revoked = run_cli(path, "revoke", "carol")
    assert revoked.returncode == 0, revoked.stderr
    assert "revoked key 'carol'" in revoked.stderr
    assert load_config(path, env={}).proxy.api_keys == ()
    assert path.read_text().startswith("# my notes\n")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("add", "bad name"), "name 'bad name' is not allowed"),
        (("add", "main"), "reserved for proxy.api_key"),
        (("add", "Alice"), "a key named 'Alice' exists already"),
        (("revoke", "dave"), "no key named 'dave' (named keys: alice, bob)"),
        (("revoke", "main"), "replace it there and restart"),
    ],
)
def test_keys_command_refuses_bad_names_and_writes_nothing(
    tmp_path, capsys, args, message
):
    path = write_config(
        tmp_path / "home", {"proxy": {"api_key": API_KEY, "api_keys": TEAM}}
    )
    before = path.read_text()
    assert main(["--config", str(path), "keys", *args]) == 2
    out, err = capsys.readouterr()
    assert message in err and out == ""
    assert path.read_text() == before


def test_revoked_key_stops_working_without_restart(team, capsys):
    client, recorder, path = team("strict")
    assert (
        client.get("/v1beta/models", headers={"x-goog-api-key": ALICE_KEY}).status_code
        == 200
    )
    assert main(["--config", str(path), "keys", "revoke", "alice"]) == 0
    assert (
        client.get("/v1beta/models", headers={"x-goog-api-key": ALICE_KEY}).status_code
        == 401
    )
    assert (
        client.get("/v1beta/models", headers={"x-goog-api-key": BOB_KEY}).status_code
        == 200
    )
    assert main(["--config", str(path), "keys", "add", "dave"]) == 0
    dave = capsys.readouterr().out.strip()
    assert (
        client.get("/v1beta/models", headers={"x-goog-api-key": dave}).status_code
        == 200
    )
    assert recorder.names == ["alice", None, "bob", "dave"]


def test_broken_config_edit_keeps_serving_with_the_previous_keys(team):
    client, _, path = team("strict")
    data = yaml.safe_load(path.read_text())
    data["proxy"]["api_keys"].append({"name": "eve", "key": "short"})
    path.write_text(yaml.safe_dump(data))
    assert (
        client.get("/v1beta/models", headers={"x-goog-api-key": ALICE_KEY}).status_code
        == 200
    )


def test_keys_without_a_subcommand_prints_help(tmp_path, capsys):
    path = write_config(tmp_path / "home", {"proxy": {"api_key": API_KEY}})
    assert main(["keys", "--config", str(path)]) == 0
    out = capsys.readouterr().out
    assert "add" in out and "revoke" in out and "list" in out
