"""z.ai dispatch modes, the pooled rotation counter and z.ai model mapping."""

from __future__ import annotations

import dataclasses
import itertools
import json
import time

import pytest

from antigravity_proxy.accounts.files import AccountFiles
from antigravity_proxy.accounts.service import AccountPool
from antigravity_proxy.config import Config, UpstreamConfig, ZaiConfig, ZaiModelsConfig
from antigravity_proxy.state import SQLiteState
from antigravity_proxy.upstream.cloudcode import CloudCodeClient
from antigravity_proxy.zai_dispatch import (
    SharedRoundRobin,
    is_zai_model,
    model_for_zai,
    use_zai,
)


@dataclasses.dataclass
class FakePool:
    available: int
    asked: list[str] = dataclasses.field(default_factory=list)

    def available_count(self, model: str) -> int:
        self.asked.append(model)
        return self.available


class Counter:
    def __init__(self) -> None:
        self.values = itertools.count()

    def next(self) -> int:
        return next(self.values)


def config(mode: str = "exclusive", **zai) -> Config:
    base = {"enabled": True, "api_key": "zk", "dispatch_mode": mode}
    return Config(zai=ZaiConfig(**{**base, **zai}))


@pytest.mark.parametrize(
    "cfg",
    [
        config("off"),
        config("exclusive", enabled=False),
        config("exclusive", api_key=""),
        config("exclusive", api_key="   "),
    ],
    ids=["off", "disabled", "no-key", "blank-key"],
)
def test_use_zai_never_when_not_ready(cfg):
    pool = FakePool(0)
    assert use_zai(cfg, pool, "claude-sonnet-4-5", Counter()) is False
    assert use_zai(cfg, pool, "glm-4.7", Counter()) is False


def test_use_zai_exclusive_takes_everything_without_asking_the_pool():
    pool = FakePool(3)
    assert use_zai(config("exclusive"), pool, "claude-opus-4-5", Counter()) is True
    assert use_zai(config("exclusive"), pool, "gemini-3-flash", None) is True
    assert pool.asked == []


def test_use_zai_fallback_only_when_no_google_account_can_serve():
    assert (
        use_zai(config("fallback"), FakePool(2), "claude-sonnet-4-5", Counter())
        is False
    )
    assert (
        use_zai(config("fallback"), FakePool(0), "claude-sonnet-4-5", Counter()) is True
    )


def test_use_zai_asks_the_pool_about_the_google_side_model():
    pool = FakePool(1)
    cfg = dataclasses.replace(
        config("fallback"), model_mapping={"my-model": "gemini-3-flash"}
    )
    use_zai(cfg, pool, "my-model", None)
    use_zai(cfg, pool, "claude-opus-4-5", None)
    assert pool.asked == ["gemini-3-flash", "claude-opus-4-6-thinking"]


def test_use_zai_pooled_rotates_over_google_accounts_plus_zai():
    counter = Counter()
    picks = [
        use_zai(config("pooled"), FakePool(2), "claude-sonnet-4-5", counter)
        for _ in range(6)
    ]
    assert picks == [True, False, False, True, False, False]


def test_use_zai_pooled_alternates_with_one_account_and_takes_all_when_none():
    counter = Counter()
    assert [use_zai(config("pooled"), FakePool(1), "m", counter) for _ in range(4)] == [
        True,
        False,
        True,
        False,
    ]
    assert all(use_zai(config("pooled"), FakePool(0), "m", counter) for _ in range(3))


def test_use_zai_pooled_count_tokens_uses_zai_without_advancing_rotation():
    counter = Counter()
    assert use_zai(config("pooled"), FakePool(2), "claude-sonnet-4-5", None) is True
    assert counter.next() == 0


@pytest.mark.parametrize("mode", ["pooled", "fallback"])
def test_use_zai_zai_native_models_always_go_to_zai(mode):
    assert use_zai(config(mode), FakePool(5), "glm-4.6", Counter()) is True
    assert use_zai(config(mode), FakePool(5), "ZAI:glm-4.5", Counter()) is True


def test_shared_round_robin_is_shared_between_instances(tmp_path):
    state = SQLiteState(tmp_path / "state.db", clock=time.time)
    other = SQLiteState(tmp_path / "state.db", clock=time.time)
    one, two = SharedRoundRobin(state), SharedRoundRobin(other)
    assert [one.next(), two.next(), one.next(), two.next()] == [0, 1, 2, 3]


def test_shared_round_robin_recovers_from_a_garbled_value(tmp_path):
    state = SQLiteState(tmp_path / "state.db", clock=time.time)
    state.put("zai-dispatch", "pooled", "garbage", 60)
    assert SharedRoundRobin(state).next() == 0


ZAI = ZaiConfig(
    model_mapping={"claude-special": "glm-x", "my-upper": "glm-y"},
    models=ZaiModelsConfig(opus="O", sonnet="S", haiku="H"),
)


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ("claude-special", "glm-x"),
        ("MY-UPPER", "glm-y"),
        ("claude-opus-4-5-20251101", "O"),
        ("claude-3-5-haiku-latest", "H"),
        ("claude-sonnet-4-5", "S"),
        ("claude-3-7-unknown", "S"),
        ("glm-4.6", "glm-4.6"),
        ("zai:glm-4.5-air", "glm-4.5-air"),
        ("zai:claude-opus-4", "O"),
        ("gemini-3-flash", "gemini-3-flash"),
    ],
)
def test_model_for_zai(model, expected):
    assert model_for_zai(ZAI, model) == expected


def test_model_for_zai_defaults_follow_the_reference():
    assert model_for_zai(ZaiConfig(), "claude-opus-4") == "glm-4.7"
    assert model_for_zai(ZaiConfig(), "claude-sonnet-4") == "glm-4.7"
    assert model_for_zai(ZaiConfig(), "claude-haiku-4") == "glm-4.5-air"


def test_is_zai_model():
    assert is_zai_model("GLM-4.6") and is_zai_model("zai:x")
    assert not is_zai_model("claude-glm")


def write_account(folder, name, **extra):
    folder.mkdir(parents=True, exist_ok=True)
    raw = {
        "id": name,
        "email": f"{name}@example.test",
        "token": {
            "access_token": "t",
            "refresh_token": "r",
            "expires_in": 1,
            "expiry_timestamp": 0,
        },
        **extra,
    }
    (folder / f"{name}.json").write_text(json.dumps(raw))


def test_account_pool_available_count_skips_disabled_and_cooling(tmp_path):
    folder = tmp_path / "accounts"
    for name in ("a", "b", "c", "d"):
        write_account(folder, name, disabled=(name == "d"))
    state = SQLiteState(tmp_path / "state.db", clock=time.time)
    config = Config(home=str(tmp_path))
    pool = AccountPool(
        config, AccountFiles(folder), state, CloudCodeClient(UpstreamConfig())
    )
    assert pool.available_count("claude-sonnet-4-6") == 3
    state.set_cooldown("a", time.time() + 60, "rate_limited")
    state.set_cooldown("b:claude", time.time() + 60, "quota_exhausted")
    assert pool.available_count("claude-sonnet-4-6") == 1
    assert pool.available_count("gemini-3-flash") == 2
