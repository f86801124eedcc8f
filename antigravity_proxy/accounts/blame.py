"""What an upstream error status blames: the request, the account or the model.

One table, `STATUS_RULES`, decides for every Cloud Code status what the pool
learns from it (``service.report_failure``), what the dispatcher does next
(``dispatch.Dispatcher``) and what rests (``cooldown.cooldown_from_error``). The
rule it keeps: a failure rests only what it proves broken. An answer that a
client's request can provoke on every account (a model id Google does not know,
a body that makes the backend fail) must never rest an account, or one bad client
locks every other client out of the pool.

======  ===========  ==========================================================
status  blame        why, and what happens
======  ===========  ==========================================================
400     REQUEST      the body is wrong; any account would say the same. Answered
                     at once (400), nothing rests.
401     TOKEN        this account's access token: refreshed and retried on the same
                     account once, then another account. Nothing rests; a refresh
                     answered ``invalid_grant`` disables the account.
403     ACCOUNT      Google refuses this account (terms, project, validation):
                     marked forbidden on disk until a user re-enables it. Google
                     answers a request it cannot serve with 400/404, not 403.
404     UNSURE       usually the model id (the client's error), rarely a model this
        confirm      account's project lacks. One other account is asked: a second
                     404 proves it is the model and is answered 404; nothing rests.
                     If the other account serves it, the first rests for that model
                     only (5 s).
413     REQUEST      the body is too large for the upstream: answered 413.
429     MODEL        this account's limit (quota, rate, capacity) for the model's
                     quota group: that pair rests (``cooldown``), another account
                     is tried. The account keeps serving other models.
500     UNSURE       a backend failure, which a request can provoke as well as a
                     sick account: other accounts are tried (up to
                     ``accounts.max_attempts``); the first rests (8 s, that model
                     only) only when another account then serves the request.
                     Every try failing is answered 502.
503     SERVICE      the upstream is overloaded for this model: the pair rests 8 s
529                  and the next try waits (exponential backoff); answered 503
                     (Anthropic 529) if no try succeeds.
other   REQUEST      (408, 409, 502, 504, ...) not retried, passed to the client as
                     its status or 502; nothing rests.
======  ===========  ==========================================================

Why no status rests a whole account any more: every rest is keyed
``<account>:<quota group>``. An account-wide 429 (if Google has one) then costs
one failed call per model group instead of locking healthy requests out.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final


class Blame(enum.Enum):
    """Who an upstream error status says is at fault."""

    REQUEST = "request"
    TOKEN = "token"
    ACCOUNT = "account"
    MODEL = "model"
    SERVICE = "service"
    UNSURE = "unsure"


@dataclass(frozen=True, slots=True)
class StatusRule:
    """One row of `STATUS_RULES`.

    :param blame: who is at fault, as far as this status alone tells.
    :param confirm: for ``UNSURE``: the same status from a second account proves
        the request is at fault, so no further account is asked.
    :param rests_now: the (account, model group) pair rests as soon as it answers.
    :param rests_if_another_serves: the pair rests only once another account
        served the same request (so the request was fine and the account not).
    """

    blame: Blame
    confirm: bool = False
    rests_now: bool = False
    rests_if_another_serves: bool = False


STATUS_RULES: Final[Mapping[int, StatusRule]] = {
    400: StatusRule(Blame.REQUEST),
    401: StatusRule(Blame.TOKEN),
    403: StatusRule(Blame.ACCOUNT),
    404: StatusRule(Blame.UNSURE, confirm=True, rests_if_another_serves=True),
    413: StatusRule(Blame.REQUEST),
    429: StatusRule(Blame.MODEL, rests_now=True),
    500: StatusRule(Blame.UNSURE, rests_if_another_serves=True),
    503: StatusRule(Blame.SERVICE, rests_now=True),
    529: StatusRule(Blame.SERVICE, rests_now=True),
}
"""Every status the upstream is known to answer with; see the module table."""

UNLISTED: Final = StatusRule(Blame.REQUEST)


def status_rule(status: int) -> StatusRule:
    """The rule for an upstream status; unlisted statuses are passed to the client."""
    return STATUS_RULES.get(status, UNLISTED)
