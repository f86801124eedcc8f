"""The status table: every row has a verdict, and no status rests a whole account."""

from __future__ import annotations

import pytest

from antigravity_proxy.accounts.blame import STATUS_RULES, UNLISTED, Blame, status_rule
from antigravity_proxy.accounts.cooldown import COOLDOWN_STATUSES, cooldown_from_error
from antigravity_proxy.accounts.service import _VERDICT, Verdict

EXPECTED = {
    # status: (blame, verdict, rests at once, rests once another account serves)
    400: (Blame.REQUEST, Verdict.FAIL, False, False),
    401: (Blame.TOKEN, None, False, False),
    403: (Blame.ACCOUNT, Verdict.ROTATE, False, False),
    404: (Blame.UNSURE, Verdict.SUSPECT, False, True),
    413: (Blame.REQUEST, Verdict.FAIL, False, False),
    429: (Blame.MODEL, Verdict.ROTATE, True, False),
    500: (Blame.UNSURE, Verdict.SUSPECT, False, True),
    503: (Blame.SERVICE, Verdict.BACKOFF, True, False),
    529: (Blame.SERVICE, Verdict.BACKOFF, True, False),
    408: (Blame.REQUEST, Verdict.FAIL, False, False),
    502: (Blame.REQUEST, Verdict.FAIL, False, False),
}


@pytest.mark.parametrize("status", sorted(EXPECTED))
def test_status_rule_verdict_and_rest(status):
    blame, verdict, now, later = EXPECTED[status]
    rule = status_rule(status)
    assert rule.blame is blame
    assert _VERDICT.get(rule.blame) is verdict
    assert (rule.rests_now, rule.rests_if_another_serves) == (now, later)
    cooldown = cooldown_from_error(status, {}, "{}")
    assert (cooldown is not None) == (now or later)
    if cooldown is not None:
        assert cooldown.scope == "model"


def test_only_a_404_is_confirmed_by_a_second_account():
    assert {s for s, r in STATUS_RULES.items() if r.confirm} == {404}
    assert status_rule(418) is UNLISTED


def test_cooldown_statuses_are_the_resting_rows():
    assert COOLDOWN_STATUSES == {404, 429, 500, 503, 529}
    assert set(STATUS_RULES) <= set(EXPECTED)
