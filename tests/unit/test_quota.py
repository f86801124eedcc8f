from __future__ import annotations

import copy

import pytest

from antigravity_proxy.accounts.quota import (
    ModelQuota,
    QuotaSnapshot,
    model_group,
    models_from_raw,
    parse_available_models,
    parse_load_code_assist,
    quota_for_model,
    quota_to_raw,
)

NOW = 1_760_000_000


def one_model(info: object, name: str = "gemini-3-flash") -> tuple[ModelQuota, ...]:
    return parse_available_models({"models": {name: info}}).models


@pytest.mark.parametrize(
    ("quota_info", "percentage"),
    [
        ({"remainingFraction": 0.8}, 80),
        ({"remainingFraction": 0.999}, 99),
        ({"remainingFraction": 0.0049}, 0),
        ({"remainingFraction": 1}, 100),
        ({"remainingFraction": 1.5}, 100),
        ({"remainingFraction": -0.2}, 0),
        ({}, 0),  # proto3 omits a zero remainingFraction
        ({"resetTime": "2026-01-08T17:00:00Z"}, 0),
        ({"remainingFraction": "0.5"}, 0),
        ({"remainingFraction": True}, 0),
        ({"remainingFraction": float("nan")}, 0),
        ({"remainingFraction": 1e308}, 100),
        ({"remainingFraction": float("-inf")}, 0),
    ],
)
def test_parse_available_models_percentage_floors_fraction(quota_info, percentage):
    (model,) = one_model({"quotaInfo": quota_info})
    assert model.percentage == percentage


def test_parse_available_models_reads_model_fields():
    info = {
        "quotaInfo": {"remainingFraction": 0.5, "resetTime": "2026-01-08T17:00:00Z"},
        "displayName": "Claude Sonnet 4.6",
        "supportsImages": True,
        "supportsThinking": False,
        "maxOutputTokens": "64000",
        "thinkingBudget": 24576,
    }
    assert one_model(info, "claude-sonnet-4-6") == (
        ModelQuota(
            name="claude-sonnet-4-6",
            percentage=50,
            reset_time="2026-01-08T17:00:00Z",
            display_name="Claude Sonnet 4.6",
            max_output_tokens=64000,
            supports_images=True,
            supports_thinking=False,
        ),
    )


@pytest.mark.parametrize(
    ("name", "kept"),
    [
        ("gemini-3-flash", True),
        ("claude-opus-4-6-thinking", True),
        ("gpt-oss-120b-medium", True),
        ("image-preview", True),
        ("imagen-4", True),
        ("Gemini-3-Pro-High", True),
        ("chat_20706", False),
        ("tab_flash_lite_preview", False),
        ("rev19-uic3-1p", False),
    ],
)
def test_parse_available_models_keeps_only_known_families(name, kept):
    models = one_model({"quotaInfo": {"remainingFraction": 1}}, name)
    assert [model.name for model in models] == ([name] if kept else [])


@pytest.mark.parametrize(
    "body",
    [
        None,
        [],
        "text",
        {},
        {"models": None},
        {"models": ["gemini-3-flash"]},
        {"models": {"gemini-3-flash": "x"}},
        {"models": {"gemini-3-flash": {"displayName": "no quotaInfo"}}},
        {"models": {"gemini-3-flash": {"quotaInfo": 0.5}}},
    ],
)
def test_parse_available_models_tolerates_garbage(body):
    assert parse_available_models(body) == QuotaSnapshot(models=(), forwarding_rules={})


def test_parse_available_models_skips_bad_entries_keeps_good_ones():
    body: dict[str, object] = {
        "models": {
            "gemini-3-flash": None,
            "claude-sonnet-4-6": {"quotaInfo": {"remainingFraction": 0.25}},
            "gemini-3-pro-high": [],
        }
    }
    snapshot = parse_available_models(body)
    assert snapshot.models == (ModelQuota("claude-sonnet-4-6", 25),)


def test_parse_available_models_reads_forwarding_rules():
    body = {
        "models": {},
        "deprecatedModelIds": {
            "claude-sonnet-4-5": {"newModelId": "claude-sonnet-4-6"},
            "gemini-old": {"newModelId": ""},
            "broken": "claude-x",
            "no-target": {},
        },
    }
    assert parse_available_models(body).forwarding_rules == {
        "claude-sonnet-4-5": "claude-sonnet-4-6"
    }


def test_quota_to_raw_replaces_owned_fields_and_keeps_the_rest():
    snapshot = QuotaSnapshot(
        models=(
            ModelQuota("claude-sonnet-4-6", 80, "2026-01-08T17:00:00Z", "Sonnet"),
            ModelQuota("gemini-3-flash", 0),
        ),
        forwarding_rules={"old": "new"},
    )
    previous = {
        "models": [{"name": "gone", "percentage": 1, "reset_time": ""}],
        "last_updated": 1,
        "is_forbidden": True,
        "subscription_tier": "Google AI Ultra",
        "quota_groups": [{"display_name": "Gemini Models"}],
        "model_forwarding_rules": {"stale": "rule"},
    }
    untouched = copy.deepcopy(previous)

    raw = quota_to_raw(snapshot, previous, NOW)

    assert raw == {
        "models": [
            {
                "name": "claude-sonnet-4-6",
                "percentage": 80,
                "reset_time": "2026-01-08T17:00:00Z",
                "display_name": "Sonnet",
            },
            {"name": "gemini-3-flash", "percentage": 0, "reset_time": ""},
        ],
        "last_updated": NOW,
        "is_forbidden": True,
        "subscription_tier": "Google AI Ultra",
        "quota_groups": [{"display_name": "Gemini Models"}],
        "model_forwarding_rules": {"old": "new"},
    }
    assert previous == untouched


def test_quota_to_raw_without_previous_sets_defaults():
    raw = quota_to_raw(QuotaSnapshot((), {}), None, NOW)
    assert raw == {
        "models": [],
        "model_forwarding_rules": {},
        "last_updated": NOW,
        "is_forbidden": False,
    }


def test_quota_to_raw_round_trips_through_models_from_raw():
    body = {
        "models": {
            "claude-opus-4-6-thinking": {
                "quotaInfo": {
                    "remainingFraction": 0.42,
                    "resetTime": "2026-01-01T00:00:00Z",
                },
                "displayName": "Opus",
                "maxOutputTokens": 64000,
                "supportsImages": True,
                "supportsThinking": True,
            },
            "gemini-3-flash": {"quotaInfo": {}},
        }
    }
    snapshot = parse_available_models(body)
    assert models_from_raw(quota_to_raw(snapshot, None, NOW)) == snapshot.models


@pytest.mark.parametrize(
    "quota",
    [
        None,
        "x",
        {"models": "x"},
        {"models": [None, 1, {"name": ""}, {"name": "a"}, {"percentage": 5}]},
        {"models": [{"name": "a", "percentage": "lots"}]},
        {"models": [{"name": "a", "percentage": "²"}]},
        {"models": [{"name": "a", "percentage": "9" * 5000}]},
    ],
)
def test_models_from_raw_skips_malformed_entries(quota):
    assert models_from_raw(quota) == ()


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"cloudaicompanionProject": "proj-1"}, ("proj-1", None)),
        ({"cloudaicompanionProject": {"id": "proj-2", "name": "x"}}, ("proj-2", None)),
        ({"cloudaicompanionProject": ""}, (None, None)),
        ({"cloudaicompanionProject": {"name": "no id"}}, (None, None)),
        ({"cloudaicompanionProject": 7}, (None, None)),
        (
            {
                "paidTier": {"id": "g1-pro-tier", "name": "Google AI Pro"},
                "currentTier": {"id": "free-tier", "name": "Free"},
            },
            (None, "Google AI Pro"),
        ),
        ({"paidTier": {"id": "g1-ultra-tier"}}, (None, "g1-ultra-tier")),
        (
            {"currentTier": {"id": "free-tier", "name": "Gemini Code Assist"}},
            (None, "Gemini Code Assist"),
        ),
        (
            {"currentTier": {"id": "standard-tier"}, "ineligibleTiers": []},
            (None, "standard-tier"),
        ),
        (
            {
                "currentTier": {"id": "free-tier", "name": "Free"},
                "ineligibleTiers": [{"reasonCode": "INELIGIBLE_ACCOUNT"}],
                "allowedTiers": [
                    {"id": "legacy-tier", "name": "Legacy"},
                    {"id": "free-tier", "name": "Free", "isDefault": True},
                ],
            },
            (None, "Free (Restricted)"),
        ),
        (
            {
                "ineligibleTiers": [{"reasonCode": "X"}],
                "allowedTiers": [{"id": "free-tier", "isDefault": True}],
            },
            (None, "free-tier (Restricted)"),
        ),
        (
            {"ineligibleTiers": [{"reasonCode": "X"}], "allowedTiers": "garbage"},
            (None, None),
        ),
        ({"paidTier": "garbage", "currentTier": {}}, (None, None)),
        (None, (None, None)),
        ([], (None, None)),
    ],
)
def test_parse_load_code_assist(body, expected):
    assert parse_load_code_assist(body) == expected


@pytest.mark.parametrize(
    ("name", "group"),
    [
        ("claude-opus-4-5-thinking", "claude"),
        ("claude-sonnet-4-6", "claude"),
        ("Opus-Latest", "claude"),
        ("haiku", "claude"),
        ("gemini-3-pro-low", "gemini-3-pro-high"),
        ("gemini-3-pro-high", "gemini-3-pro-high"),
        ("gemini-3.1-pro-preview", "gemini-3-pro-high"),
        ("gemini-2.5-flash", "gemini-3-flash"),
        ("gemini-3-flash-agent", "gemini-3-flash"),
        ("gemini-3-pro-image", "gemini-3-pro-image"),
        ("gemini-3-pro-image-4k-16x9", "gemini-3-pro-image"),
        ("gemini-3.1-flash-image-4k", "gemini-3.1-flash-image"),
        ("gpt-4", None),
        ("gpt-oss-120b-medium", None),
        ("", None),
    ],
)
def test_model_group_normalizes_to_quota_bucket(name, group):
    assert model_group(name) == group


MODELS = (
    ModelQuota("claude-sonnet-4-6", 20),
    ModelQuota("claude-opus-4-6-thinking", 70),
    ModelQuota("gemini-3-pro-low", 10),
    ModelQuota("gemini-3-flash", 0),
    ModelQuota("gpt-oss-120b-medium", 55),
)


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ("claude-sonnet-4-6", "claude-sonnet-4-6"),
        ("CLAUDE-SONNET-4-6", "claude-sonnet-4-6"),
        ("claude-haiku-4", "claude-opus-4-6-thinking"),
        ("gemini-3-pro-high", "gemini-3-pro-low"),
        ("gemini-2.5-flash", "gemini-3-flash"),
        ("gpt-oss-120b-medium", "gpt-oss-120b-medium"),
        ("gpt-4o", None),
        ("gemini-3-pro-image", None),
    ],
)
def test_quota_for_model_prefers_exact_then_best_of_group(model, expected):
    found = quota_for_model(MODELS, model)
    assert (found.name if found else None) == expected


def test_quota_for_model_accepts_any_iterable():
    assert quota_for_model(iter(MODELS), "claude") == MODELS[1]
    assert quota_for_model((), "claude") is None
