"""Runtime marks shared by two boxes: each its own account files, one shared state."""

from __future__ import annotations

import json
import time

import pytest

from antigravity_proxy.accounts.edits import (
    disable,
    mark_forbidden,
    set_enabled,
    set_quota,
    set_token,
)
from antigravity_proxy.accounts.files import AccountFiles
from antigravity_proxy.accounts.marks import (
    CACHE_SECONDS,
    NAMESPACE,
    SharedMarks,
    apply_marks,
    marks_from_raw,
    overlay,
)
from antigravity_proxy.accounts.store import account_from_raw
from antigravity_proxy.state import SQLiteState
from tests.fakes.cloudcode import FakeCloudCode
from tests.state_env import sqlite_state
from tests.upstream_env import read_account, seed_account

NOW = int(time.time())


class Ticks:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class CountingState(SQLiteState):
    """The SQLite state, counting batch reads (a fake, not a mock)."""

    batch_reads = 0

    def get_many(self, namespace, keys):
        self.batch_reads += 1
        return super().get_many(namespace, keys)


def two_boxes(tmp_path, ticks=None):
    """Box A and box B: a copy each of account ``a``, the same shared state."""
    fake = FakeCloudCode()
    state = CountingState(tmp_path / "group" / "state.db", clock=time.time)
    boxes = []
    for name in ("box-a", "box-b"):
        seed_account(tmp_path / name, fake, "a")
        files = AccountFiles(tmp_path / name / "accounts")
        boxes.append(SharedMarks(files, state, monotonic=ticks or time.monotonic))
    return boxes[0], boxes[1], state


def test_forbidden_mark_on_one_box_takes_the_account_out_on_the_other(tmp_path):
    ticks = Ticks()
    box_a, box_b, _ = two_boxes(tmp_path, ticks)
    assert box_b.all()[0].usable(NOW)
    box_a.update("a", lambda raw: mark_forbidden(raw, "denied", NOW))
    ticks.now += CACHE_SECONDS
    seen = box_b.all()[0]
    assert seen.forbidden and not seen.usable(NOW)
    assert seen.proxy_disabled_reason == "Forbidden (403): denied"
    assert read_account(tmp_path / "box-b", "a")["proxy_disabled"] is False


def test_enabling_on_the_other_box_clears_the_mark_for_the_group(tmp_path):
    box_a, box_b, _ = two_boxes(tmp_path)
    box_a.update("a", lambda raw: mark_forbidden(raw, "denied", NOW))
    box_b.update("a", lambda raw: set_enabled(raw, True))
    assert box_a.get("a").usable(NOW)  # box A's own file still says forbidden
    assert read_account(tmp_path / "box-a", "a")["quota"]["is_forbidden"] is True


def test_disabled_with_reason_is_shared(tmp_path):
    box_a, box_b, _ = two_boxes(tmp_path)
    box_a.update("a", lambda raw: disable(raw, "invalid_grant: revoked", NOW))
    seen = box_b.get("a")
    assert seen.disabled and seen.disabled_reason == "invalid_grant: revoked"


def test_refreshed_token_on_one_box_serves_the_other(tmp_path):
    box_a, box_b, state = two_boxes(tmp_path)
    box_a.update("a", lambda raw: set_token(raw, "ya29.fresh", 3599, NOW))
    seen = box_b.get("a")
    assert (seen.access_token, seen.expiry_timestamp) == ("ya29.fresh", NOW + 3599)
    assert read_account(tmp_path / "box-b", "a")["token"]["access_token"] == (
        "ya29.stale"
    )
    assert "ya29.fresh" in state.get(NAMESPACE, "a:token")


def test_an_older_shared_token_never_replaces_a_newer_file_token(tmp_path):
    box_a, box_b, _ = two_boxes(tmp_path)
    box_a.update("a", lambda raw: set_token(raw, "ya29.older", 3599, NOW))
    box_b.inner.update("a", lambda raw: set_token(raw, "ya29.newer", 3599, NOW + 60))
    assert box_b.get("a").access_token == "ya29.newer"


def test_an_edit_publishes_only_the_marks_it_changed(tmp_path):
    box_a, box_b, state = two_boxes(tmp_path)
    box_b.update("a", lambda raw: mark_forbidden(raw, "denied", NOW))
    quota = {"models": [], "last_updated": NOW, "subscription_tier": "Pro"}
    # As quota_to_raw does: fields it does not own are carried over.
    box_a.update("a", lambda raw: set_quota(raw, {**raw["quota"], **quota}))
    seen = box_a.get("a")
    assert seen.forbidden and seen.quota_last_updated == NOW
    assert state.get(NAMESPACE, "a:disabled") is None  # never changed


def test_quota_fetched_by_one_box_is_seen_by_the_other(tmp_path):
    box_a, box_b, _ = two_boxes(tmp_path)
    models = [{"name": "gemini-3-flash", "percentage": 42, "reset_time": ""}]
    quota = {"models": models, "last_updated": NOW, "subscription_tier": "Ultra"}
    box_a.update("a", lambda raw: set_quota(raw, quota))
    seen = box_b.get("a")
    assert [(m.name, m.percentage) for m in seen.quota_models] == [
        ("gemini-3-flash", 42)
    ]
    assert (seen.quota_last_updated, seen.tier) == (NOW, "Ultra")


def test_request_path_reads_the_state_once_per_cache_period(tmp_path):
    ticks = Ticks()
    _, box_b, state = two_boxes(tmp_path, ticks)
    first = box_b.all()
    for _ in range(50):
        assert box_b.all() == first
    assert state.batch_reads == 1
    ticks.now += CACHE_SECONDS
    box_b.all()
    assert state.batch_reads == 2


def test_unchanged_accounts_keep_their_overlaid_view_object(tmp_path):
    ticks = Ticks()
    box_a, box_b, _ = two_boxes(tmp_path, ticks)
    box_a.update("a", lambda raw: set_token(raw, "ya29.fresh", 3599, NOW))
    first = box_b.all()[0]
    ticks.now += CACHE_SECONDS  # records fetched again, same content
    assert box_b.all()[0] is first


def test_a_state_that_is_down_leaves_the_files_in_charge(tmp_path):
    seed_account(tmp_path, FakeCloudCode(), "a")
    down = sqlite_state(tmp_path)  # a directory: never opens
    store = SharedMarks(AccountFiles(tmp_path / "accounts"), down)
    assert store.all()[0].usable(NOW)
    store.update("a", lambda raw: mark_forbidden(raw, "denied", NOW))
    assert store.get("a").forbidden
    assert read_account(tmp_path, "a")["quota"]["is_forbidden"] is True


def raw_account(**fields) -> dict:
    """Account ``a`` as its file holds it: a token, and ``fields`` beside it."""
    token = {
        "access_token": "t",
        "refresh_token": "r",
        "expires_in": 1,
        "expiry_timestamp": 5,
    }
    return {"id": "a", "email": "a@example.test", "token": token, **fields}


def test_malformed_records_are_ignored():
    account = account_from_raw(raw_account())
    records = {
        "a:token": "{not json",
        "a:disabled": json.dumps({"on": "yes"}),
        "a:proxy": json.dumps([1]),
        "a:quota": json.dumps({"last_updated": "soon"}),
        "b:forbidden": json.dumps({"on": True}),
    }
    assert overlay(account, records) is account


def test_marks_from_raw_leave_the_forbidden_fields_out_of_quota():
    raw = {"quota": {"is_forbidden": True, "forbidden_reason": "x", "models": []}}
    marks = marks_from_raw(raw)
    assert marks["quota"] == {"models": []}
    assert marks["forbidden"] == {"on": True}


GROUP_RECORDS = [
    {
        "a:token": json.dumps(
            {"access_token": "n", "expires_in": 9, "expiry_timestamp": 9}
        )
    },
    {
        "a:token": json.dumps(
            {"access_token": "o", "expires_in": 1, "expiry_timestamp": 1}
        )
    },
    {"a:disabled": json.dumps({"on": True, "reason": "invalid_grant: x"})},
    {"a:proxy": json.dumps({"on": True, "reason": "manual"})},
    {"a:forbidden": json.dumps({"on": True})},
    {"a:forbidden": json.dumps({"on": False})},
    {
        "a:quota": json.dumps(
            {
                "models": [{"name": "m", "percentage": 7, "reset_time": ""}],
                "last_updated": 4,
                "subscription_tier": "Ultra",
            }
        )
    },
]


@pytest.mark.parametrize("records", GROUP_RECORDS, ids=lambda r: next(iter(r)))
@pytest.mark.parametrize("forbidden_file", [False, True])
def test_applying_marks_to_the_file_reads_back_as_the_overlay(records, forbidden_file):
    raw = raw_account(quota={"is_forbidden": forbidden_file, "last_updated": 2})
    account = account_from_raw(raw)
    apply_marks(raw, records, "a")
    assert account_from_raw(raw) == overlay(account, records)


def test_an_edit_on_a_box_writes_the_group_marks_into_its_file(tmp_path):
    box_a, box_b, _ = two_boxes(tmp_path)
    box_a.update("a", lambda raw: set_token(raw, "ya29.fresh", 3599, NOW))
    box_a.update("a", lambda raw: mark_forbidden(raw, "denied", NOW))
    box_b.update("a", lambda raw: raw.update(note="touched"))
    on_disk = read_account(tmp_path / "box-b", "a")
    assert on_disk["quota"]["is_forbidden"] is True
    assert on_disk["token"]["access_token"] == "ya29.fresh"
    assert on_disk["token"]["refresh_token"] == "1//rt-a"  # never shared


def test_logging_in_again_lifts_the_groups_invalid_grant_disable(tmp_path):
    box_a, box_b, _ = two_boxes(tmp_path)
    box_a.update("a", lambda raw: disable(raw, "invalid_grant: revoked", NOW))
    assert box_b.get("a").disabled
    token = {
        "access_token": "ya29.new",
        "refresh_token": "1//rt-new",
        "expires_in": 3599,
        "expiry_timestamp": NOW + 3599,
    }
    assert box_b.create({"email": "a@example.test", "token": token}).id == "a"
    for box in (box_a, box_b):
        seen = box.get("a")
        assert not seen.disabled and seen.access_token == "ya29.new"
