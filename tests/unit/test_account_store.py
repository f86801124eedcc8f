from __future__ import annotations

import copy
import json
import logging
import multiprocessing
import stat
from pathlib import Path
from typing import Any

import pytest

from antigravity_proxy.accounts.edits import (
    disable,
    mark_forbidden,
    replace_token,
    set_enabled,
    set_project,
    set_quota,
    set_token,
    truncate_utf8,
)
from antigravity_proxy.accounts.files import AccountFiles
from antigravity_proxy.accounts.quota import ModelQuota
from antigravity_proxy.accounts.store import (
    Account,
    AccountLoadError,
    AccountNotFound,
    account_from_raw,
)

DATA = Path(__file__).parent / "data" / "accounts"
FULL_ID = "5f0c2a8e-1b7d-4c1e-9a55-0d6c3e2b9f10"
NOW = 1_760_000_000


def load_fixture(name: str) -> dict[str, Any]:
    raw: dict[str, Any] = json.loads((DATA / f"{name}.json").read_text("utf-8"))
    return raw


def install(directory: Path, raw: dict[str, Any]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{raw['id']}.json"
    path.write_text(json.dumps(raw), "utf-8")
    return path


def minimal(**changes: Any) -> dict[str, Any]:
    raw = load_fixture("minimal")
    raw.update(changes)
    return raw


def test_account_from_raw_builds_typed_view():
    account = account_from_raw(load_fixture("full"))
    assert account.id == FULL_ID
    assert account.email == "user@gmail.com"
    assert account.access_token == "ya29.fixture-access"
    assert account.refresh_token == "1//fixture-refresh"
    assert (account.expires_in, account.expiry_timestamp) == (3599, 1760003599)
    assert account.project_id == "some-project-123"
    assert account.tier == "Google AI Pro"
    assert account.forbidden is False
    assert account.validation_blocked_until is None
    assert account.quota_last_updated == 1760000000
    assert account.quota_models == (
        ModelQuota(
            name="claude-sonnet-4-6-thinking",
            percentage=80,
            reset_time="2026-01-08T17:00:00Z",
            display_name="Claude Sonnet 4.6 (Thinking)",
            max_output_tokens=64000,
            supports_images=True,
            supports_thinking=True,
        ),
        ModelQuota(name="gemini-3-flash", percentage=100),
    )


def test_account_from_raw_defaults_optional_fields():
    account = account_from_raw(load_fixture("minimal"))
    assert account.project_id == ""
    assert account.tier == ""
    assert account.quota_models == ()
    assert account.quota_last_updated is None
    assert account.usable(NOW)


def test_account_repr_hides_tokens():
    text = repr(account_from_raw(load_fixture("full")))
    assert "fixture-access" not in text
    assert "fixture-refresh" not in text
    assert "user@gmail.com" in text


@pytest.mark.parametrize(
    "path",
    [
        ("id",),
        ("email",),
        ("token",),
        ("token", "access_token"),
        ("token", "refresh_token"),
        ("token", "expires_in"),
        ("token", "expiry_timestamp"),
    ],
)
def test_account_from_raw_missing_required_field_is_named(path):
    raw = load_fixture("minimal")
    parent = raw
    for key in path[:-1]:
        parent = parent[key]
    del parent[path[-1]]
    expected = "token.access_token" if path == ("token",) else ".".join(path)
    with pytest.raises(AccountLoadError, match=rf"field {expected}\b"):
        account_from_raw(raw)


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("email",), ""),
        (("email",), 42),
        (("token", "expires_in"), "3599"),
        (("token", "expires_in"), True),
        (("token", "expiry_timestamp"), 1.5),
    ],
)
def test_account_from_raw_rejects_wrong_types(path, value):
    raw = load_fixture("minimal")
    parent = raw
    for key in path[:-1]:
        parent = parent[key]
    parent[path[-1]] = value
    with pytest.raises(AccountLoadError, match=".".join(path)):
        account_from_raw(raw)


@pytest.mark.parametrize(
    ("changes", "usable"),
    [
        ({}, True),
        ({"quota": None}, True),
        ({"disabled": True}, False),
        ({"proxy_disabled": True, "proxy_disabled_reason": "manual"}, False),
        ({"proxy_disabled": True, "proxy_disabled_reason": "quota_protection"}, True),
        ({"quota": {"is_forbidden": True}}, False),
        ({"validation_blocked": True, "validation_blocked_until": NOW + 1}, False),
        ({"validation_blocked": True, "validation_blocked_until": NOW}, True),
        ({"validation_blocked": False, "validation_blocked_until": NOW + 1}, True),
    ],
)
def test_account_usable_follows_loading_rules(changes, usable):
    assert account_from_raw(minimal(**changes)).usable(NOW) is usable


def test_store_round_trip_preserves_unknown_fields(tmp_path):
    original = load_fixture("full")
    install(tmp_path, original)
    store = AccountFiles(tmp_path)

    account = store.update(FULL_ID, lambda raw: set_project(raw, "other-project"))

    assert account.project_id == "other-project"
    expected = copy.deepcopy(original)
    expected["token"]["project_id"] = "other-project"
    assert store.get_raw(FULL_ID) == expected
    assert list(store.get_raw(FULL_ID)) == list(original)  # key order kept


def test_store_get_and_all_return_accounts(tmp_path):
    install(tmp_path, load_fixture("full"))
    install(tmp_path, load_fixture("minimal"))
    store = AccountFiles(tmp_path)
    assert store.ids() == [FULL_ID, "minimal-1"]
    assert store.get("minimal-1") == account_from_raw(load_fixture("minimal"))
    assert [account.id for account in store.all()] == [FULL_ID, "minimal-1"]


def test_store_missing_directory_is_empty(tmp_path):
    store = AccountFiles(tmp_path / "absent")
    assert store.ids() == []
    assert store.all() == []


def test_store_ids_ignore_lock_and_temp_files(tmp_path):
    install(tmp_path, load_fixture("minimal"))
    for name in ("minimal-1.json.lock", ".minimal-1.json.abc.tmp", ".create.lock"):
        (tmp_path / name).write_text("x")
    (tmp_path / "notes.txt").write_text("x")
    assert AccountFiles(tmp_path).ids() == ["minimal-1"]


def test_store_all_skips_invalid_files_and_names_them(tmp_path, caplog):
    install(tmp_path, load_fixture("minimal"))
    (tmp_path / "broken.json").write_text('{"id": "broken", "token": {"access_t')
    (tmp_path / "array.json").write_text("[1, 2]")
    (tmp_path / "binary.json").write_bytes(b"\xff\xfe\x00garbage")
    install(tmp_path, minimal(id="no-refresh", token={"access_token": "ya29.secret"}))
    install(tmp_path, minimal(id="mismatch"))
    (tmp_path / "mismatch.json").rename(tmp_path / "renamed.json")
    (tmp_path / "folder.json").mkdir()

    with caplog.at_level(logging.WARNING):
        accounts = AccountFiles(tmp_path).all()

    assert [account.id for account in accounts] == ["minimal-1"]
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 6
    for name in ("broken", "array", "binary", "no-refresh", "renamed", "folder"):
        assert any(f"{name}.json" in message for message in warnings), name
    assert any("token.refresh_token" in message for message in warnings)
    assert not any("ya29" in message for message in warnings)


@pytest.mark.parametrize(
    "account_id", ["", ".", "..", ".hidden", "../x", "a/b", "a\\b", "x y", "é", "a\0"]
)
def test_store_rejects_unsafe_ids(tmp_path, account_id):
    store = AccountFiles(tmp_path / "accounts")
    with pytest.raises(ValueError, match="invalid account id"):
        store.get(account_id)
    with pytest.raises(ValueError, match="invalid account id"):
        store.update(account_id, lambda raw: None)
    with pytest.raises(ValueError, match="invalid account id"):
        store.remove(account_id)
    with pytest.raises(ValueError, match="invalid account id"):
        store.create(minimal(id=account_id))
    assert list(tmp_path.rglob("*.json")) == []


@pytest.mark.parametrize("account_id", ["a", "A-b_c.d", "5f0c2a8e-1b7d", "x.json"])
def test_store_accepts_safe_ids(tmp_path, account_id):
    store = AccountFiles(tmp_path)
    assert (
        store.create(minimal(id=account_id, email=f"{account_id}@x")).id == account_id
    )
    assert store.get(account_id).id == account_id


def test_store_get_missing_raises_not_found(tmp_path):
    with pytest.raises(AccountNotFound):
        AccountFiles(tmp_path).get("nobody")
    with pytest.raises(AccountNotFound):
        AccountFiles(tmp_path).update("nobody", lambda raw: None)


def test_store_get_invalid_file_raises_load_error(tmp_path):
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(AccountLoadError, match="bad.json: not valid JSON"):
        AccountFiles(tmp_path).get("bad")


def test_store_update_writes_whole_file_with_private_mode(tmp_path):
    path = install(tmp_path, load_fixture("minimal"))
    store = AccountFiles(tmp_path)
    store.update("minimal-1", lambda raw: raw.update(counter=1))
    assert json.loads(path.read_text("utf-8"))["counter"] == 1
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    leftovers = sorted(p.name for p in tmp_path.iterdir())
    assert leftovers == ["minimal-1.json", "minimal-1.json.lock"]


def test_store_update_leaving_invalid_file_writes_nothing(tmp_path):
    path = install(tmp_path, load_fixture("minimal"))
    before = path.read_bytes()
    with pytest.raises(AccountLoadError, match="token.refresh_token"):
        AccountFiles(tmp_path).update(
            "minimal-1", lambda raw: raw["token"].pop("refresh_token")
        )
    assert path.read_bytes() == before


def test_store_update_mutator_exception_writes_nothing(tmp_path):
    path = install(tmp_path, load_fixture("minimal"))
    before = path.read_bytes()

    def explode(raw: dict[str, Any]) -> None:
        raw["email"] = "changed@x"
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        AccountFiles(tmp_path).update("minimal-1", explode)
    assert path.read_bytes() == before


def increment_counter(directory: str, account_id: str, times: int, start: Any) -> None:
    store = AccountFiles(Path(directory))

    def bump(raw: dict[str, Any]) -> None:
        raw["counter"] = raw.get("counter", 0) + 1

    start.wait(timeout=60)  # both processes race from the same moment
    for _ in range(times):
        store.update(account_id, bump)


def test_store_concurrent_updates_from_two_processes_lose_nothing(tmp_path):
    install(tmp_path, load_fixture("minimal"))
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(2)
    arguments = (str(tmp_path), "minimal-1", 50, start)
    workers = [
        context.Process(target=increment_counter, args=arguments) for _ in range(2)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
    assert [worker.exitcode for worker in workers] == [0, 0]
    assert AccountFiles(tmp_path).get_raw("minimal-1")["counter"] == 100


def test_store_create_assigns_uuid_and_created_at(tmp_path):
    raw = load_fixture("minimal")
    del raw["id"]
    store = AccountFiles(tmp_path / "accounts", clock=lambda: 1234.9)

    account = store.create(raw)

    assert len(account.id) == 36 and account.id.count("-") == 4
    assert store.ids() == [account.id]
    assert store.get_raw(account.id)["created_at"] == 1234
    assert "id" not in raw  # the caller's dict is untouched


def test_store_create_same_email_updates_token_instead(tmp_path):
    store = AccountFiles(tmp_path)
    first = store.create(minimal(quota={"subscription_tier": "Pro"}))
    disabled = store.update(first.id, lambda raw: disable(raw, "invalid_grant: x", NOW))
    assert not disabled.usable(NOW)

    again = minimal(id=None, email="MIN@example.com ")
    again["token"] = {"access_token": "ya29.new", "refresh_token": "1//new"}
    account = store.create(again)

    assert store.ids() == ["minimal-1"]
    assert account.id == "minimal-1"
    assert (account.access_token, account.refresh_token) == ("ya29.new", "1//new")
    assert account.expires_in == 3599  # fields the new token lacks are kept
    assert account.tier == "Pro"
    assert account.usable(NOW)


def test_store_create_same_email_keeps_other_disable_reasons(tmp_path):
    store = AccountFiles(tmp_path)
    store.create(minimal(disabled=True, disabled_reason="manual"))
    assert not store.create(minimal()).usable(NOW)


def test_store_create_refuses_existing_id_with_other_email(tmp_path):
    store = AccountFiles(tmp_path)
    store.create(minimal())
    with pytest.raises(FileExistsError):
        store.create(minimal(email="other@example.com"))
    assert store.get("minimal-1").email == "min@example.com"


def test_store_create_refuses_invalid_account(tmp_path):
    store = AccountFiles(tmp_path)
    with pytest.raises(AccountLoadError, match="token.access_token"):
        store.create({"email": "a@b"})
    assert store.ids() == []


def test_store_remove_deletes_file_and_lock(tmp_path):
    store = AccountFiles(tmp_path)
    store.create(minimal())
    store.update("minimal-1", lambda raw: None)
    store.remove("minimal-1")
    assert sorted(p.name for p in tmp_path.iterdir()) == [".create.lock"]
    with pytest.raises(AccountNotFound):
        store.remove("minimal-1")


def test_set_token_sets_expiry_and_only_rotated_tokens():
    raw = load_fixture("minimal")
    set_token(raw, "ya29.fresh", 3600, NOW)
    assert raw["token"] == {
        "access_token": "ya29.fresh",
        "refresh_token": "1//min-refresh",
        "expires_in": 3600,
        "expiry_timestamp": NOW + 3600,
    }
    set_token(raw, "ya29.b", 10, NOW, refresh_token="1//b", id_token="eyJ.b")
    assert raw["token"]["refresh_token"] == "1//b"
    assert raw["token"]["id_token"] == "eyJ.b"


def test_disable_truncates_reason_to_800_bytes():
    raw = load_fixture("minimal")
    disable(raw, "invalid_grant: " + "é" * 1000, NOW)
    assert raw["disabled"] is True
    assert raw["disabled_at"] == NOW
    assert raw["disabled_reason"].startswith("invalid_grant: é")
    assert len(raw["disabled_reason"].encode("utf-8")) <= 800
    assert not account_from_raw(raw).usable(NOW)


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        ("abc", 3, "abc"),
        ("abcd", 3, "abc"),
        ("aé", 2, "a"),
        ("✓✓", 5, "✓"),
        ("", 0, ""),
    ],
)
def test_truncate_utf8_never_splits_a_character(text, limit, expected):
    assert truncate_utf8(text, limit) == expected


def test_mark_forbidden_takes_account_out_of_pool():
    raw = minimal(quota={"subscription_tier": "Google AI Pro"})
    mark_forbidden(raw, '{"error": {"code": 403}}', NOW)
    assert raw["quota"] == {
        "subscription_tier": "Google AI Pro",
        "is_forbidden": True,
        "forbidden_reason": '{"error": {"code": 403}}',
    }
    assert raw["proxy_disabled"] is True
    assert raw["proxy_disabled_reason"] == 'Forbidden (403): {"error": {"code": 403}}'
    assert raw["proxy_disabled_at"] == NOW
    account = account_from_raw(raw)
    assert account.forbidden and not account.usable(NOW)


def test_set_enabled_true_clears_every_block():
    raw = minimal(validation_blocked=True, validation_blocked_until=NOW + 600)
    disable(raw, "invalid_grant", NOW)
    mark_forbidden(raw, "nope", NOW)
    set_enabled(raw, True)
    account = account_from_raw(raw)
    assert account.usable(NOW)
    assert not (account.disabled or account.proxy_disabled or account.forbidden)
    assert raw["disabled_reason"] is None and raw["proxy_disabled_reason"] is None
    assert raw["quota"]["forbidden_reason"] is None


def test_set_enabled_false_is_a_manual_proxy_disable():
    raw = load_fixture("minimal")
    set_enabled(raw, False, now=NOW)
    assert raw["proxy_disabled"] is True
    assert raw["proxy_disabled_reason"] == "manual"
    assert raw["proxy_disabled_at"] == NOW
    assert not account_from_raw(raw).usable(NOW)


def test_set_project_and_set_quota_edit_their_objects():
    raw = minimal(token="garbage")
    set_project(raw, "proj-1")
    assert raw["token"] == {"project_id": "proj-1"}
    quota = {"models": [{"name": "gemini-3-flash", "percentage": 5}]}
    raw = load_fixture("minimal")
    set_quota(raw, quota)
    quota["models"].clear()
    assert account_from_raw(raw).quota_models == (ModelQuota("gemini-3-flash", 5),)


def test_replace_token_merges_and_reenables_invalid_grant_only():
    raw = minimal()
    disable(raw, "invalid_grant: Token has been expired or revoked.", NOW)
    replace_token(raw, {"access_token": "ya29.x"})
    assert raw["token"]["access_token"] == "ya29.x"
    assert raw["token"]["refresh_token"] == "1//min-refresh"
    assert account_from_raw(raw).usable(NOW)


def test_account_is_frozen():
    account: Account = account_from_raw(load_fixture("minimal"))
    with pytest.raises(AttributeError):
        account.email = "x"  # type: ignore[misc]
