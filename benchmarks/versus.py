"""``python -m benchmarks.versus --rev REV`` (``make bench-versus``): this tree's
gateway against the gateway of an older revision, A/B on one fake.

Why A/B: on a loaded machine two separate ``make bench`` runs differ by about
0.5 ms in added p50, so a criterion like issue 11's "added p50 within 0.2 ms of
before" cannot be judged from two runs. Here both gateways run at once against
one loopback fake Cloud Code, each in its own home with the same two accounts and
the shape of ``make bench`` (1 gunicorn worker x 16 threads, auth off), and one
session sends, request by request: the small Gemini ``generateContent`` to each
gateway, this tree's upstream envelope replayed straight to the fake (the direct
call), and ``/healthz`` to each. That is one round (``--requests`` of each after
a warm-up); the two gateways swap places in the order every round. Each round
gives each gateway's added p50 (its p50 minus the direct p50) and ``/healthz``
p50; the result is the median over rounds of each and the median of the
per-round differences (this minus base), the added one judged against < 0.2 ms.

The old revision is provisioned by ``benchmarks.revision`` under
``.bench/rev-<shortsha>/`` (its own venv, made once). Both gateways run with a
scratch directory as working directory, checked to import their own package.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import requests

from benchmarks.gemini_path import BODY, GENERATE, HEALTH
from benchmarks.harness import (
    GATEWAY_THREADS,
    Goal,
    Send,
    Stack,
    direct_sender,
    get_sender,
    machine_summary,
    percentile,
    post_sender,
    report,
    seeded,
    sequential_latencies,
)
from benchmarks.revision import Revision, check_runs_own_code, provisioned, this_tree
from tests.e2e.conftest import run_gateway
from tests.fakes.cloudcode import FakeCloudCode, serve
from tests.upstream_env import upstream_section

DEFAULT_REV: Final = "2c3c343"  # main before issue 11's request pipeline
ROUNDS: Final = 6
REQUESTS: Final = 300
WARMUP: Final = 20
DIFF_GOAL: Final = Goal(0.2)  # issue 11: added p50 within 0.2 ms of before
NAMES: Final = ("base", "this")
PER_CALL: Final = frozenset({"requestId", "project"})


@dataclass(frozen=True)
class Round:
    """One round's p50s in ms: each gateway's added p50 and ``/healthz`` p50."""

    added: Mapping[str, float]
    healthz: Mapping[str, float]


@dataclass(frozen=True)
class Summary:
    """Medians over rounds (per gateway) and of the per-round differences.

    ``*_range`` is the lowest and highest per-round difference, printed beside
    the median so a reader sees how far one round can mislead.
    """

    added: Mapping[str, float]
    healthz: Mapping[str, float]
    added_diff: float
    healthz_diff: float
    added_range: tuple[float, float]
    healthz_range: tuple[float, float]


def round_from_samples(samples: Mapping[str, Sequence[float]]) -> Round:
    """A ``Round`` from seconds per request keyed ``base``, ``this``, ``direct``,
    ``healthz base`` and ``healthz this``."""
    p50 = {name: percentile(values, 0.5) * 1000 for name, values in samples.items()}
    return Round(
        added={name: p50[name] - p50["direct"] for name in NAMES},
        healthz={name: p50[f"healthz {name}"] for name in NAMES},
    )


def summarize(rounds: Sequence[Round]) -> Summary:
    """Median of each figure over ``rounds`` and median of this minus base.

    Why the median of differences rather than the difference of medians: the
    machine's mood moves both gateways together within a round, so the per-round
    difference cancels it; its median then drops the odd disturbed round.
    """
    added = [diff(r.added) for r in rounds]
    healthz = [diff(r.healthz) for r in rounds]
    return Summary(
        added={n: statistics.median(r.added[n] for r in rounds) for n in NAMES},
        healthz={n: statistics.median(r.healthz[n] for r in rounds) for n in NAMES},
        added_diff=statistics.median(added),
        healthz_diff=statistics.median(healthz),
        added_range=(min(added), max(added)),
        healthz_range=(min(healthz), max(healthz)),
    )


def diff(values: Mapping[str, float]) -> float:
    """This tree's figure minus the base revision's."""
    return values["this"] - values["base"]


def round_order(index: int) -> tuple[str, ...]:
    """The send order of round ``index``: the gateways swap places every round."""
    first, second = NAMES if index % 2 == 0 else NAMES[::-1]
    return (first, second, "direct", f"healthz {first}", f"healthz {second}")


@contextmanager
def two_gateways(base: Revision, this: Revision) -> Iterator[dict[str, Stack]]:
    """Both gateways on one fake, each with the same two accounts in its own home.

    The scratch folder is every child's working directory, so neither checkout's
    package can be imported from there (checked before each start).
    """
    fake = FakeCloudCode()
    with ExitStack() as stack:
        root = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="agp-vs-")))
        url = stack.enter_context(serve(fake))
        data = {"proxy": {"auth_mode": "off"}, "upstream": upstream_section(url)}
        stacks = {}
        for name, revision in (("base", base), ("this", this)):
            check_runs_own_code(revision, root)
            tokens = seeded(root / name, fake)
            gateway = stack.enter_context(
                run_gateway(
                    root / name,
                    data,
                    workers=1,
                    threads=GATEWAY_THREADS,
                    python=str(revision.python),
                    cwd=root,
                )
            )
            pid = gateway.process.pid
            stacks[name] = Stack(fake, url, gateway.base_url, tokens, pid)
        yield stacks


def senders(stacks: Mapping[str, Stack]) -> dict[str, Send]:
    """Every path of a round, keyed as ``round_from_samples`` reads them."""
    body = json.dumps(BODY).encode()
    sends = {
        n: post_sender(s.gateway_url + GENERATE, body, {}) for n, s in stacks.items()
    }
    sends["direct"] = direct_sender(stacks["this"], sends["this"])
    for name, stack in stacks.items():
        sends[f"healthz {name}"] = get_sender(stack.gateway_url + HEALTH)
    return sends


def envelope_note(stacks: Mapping[str, Stack], sends: Mapping[str, Send]) -> str:
    """Whether both gateways send the fake the same upstream body for ``BODY``.

    ``requestId`` is new per request and ``project`` is the serving account's,
    so both are left out of the comparison.
    """
    fake = stacks["this"].fake
    bodies = []
    with requests.Session() as session:
        for name in NAMES:
            sends[name](session)
            sent = fake.calls(":streamGenerateContent")[-1].json
            bodies.append({k: v for k, v in sent.items() if k not in PER_CALL})
    if bodies[0] == bodies[1]:
        return "upstream envelopes: the same but for requestId and project"
    sizes = " vs ".join(str(len(json.dumps(b))) for b in bodies)
    return f"upstream envelopes differ ({sizes} bytes); direct replays this tree's"


def measure(sends: Mapping[str, Send], rounds: int, count: int) -> list[Round]:
    """``rounds`` rounds of ``count`` interleaved requests per path, printed."""
    results = []
    for index in range(rounds):
        ordered = {name: sends[name] for name in round_order(index)}
        one = round_from_samples(sequential_latencies(ordered, count, WARMUP))
        results.append(one)
        report(
            f"round {index + 1} added diff",
            diff(one.added),
            "ms",
            None,
            f"(base {one.added['base']:.2f}, this {one.added['this']:.2f})",
        )
        report(
            "        /healthz diff",
            diff(one.healthz),
            "ms",
            None,
            f"(base {one.healthz['base']:.2f}, this {one.healthz['this']:.2f})",
        )
    return results


def print_summary(summary: Summary, rounds: int) -> None:
    """The medians, the added-p50 difference judged against ``DIFF_GOAL``."""
    over = f"(median of {rounds} rounds)"
    for name in NAMES:
        report(f"{name} added p50", summary.added[name], "ms", None, over)
    spread = "(median per-round; {:+.2f}..{:+.2f})"
    note = spread.format(*summary.added_range)
    report("added p50 diff", summary.added_diff, "ms", DIFF_GOAL, note)
    for name in NAMES:
        report(f"{name} /healthz p50", summary.healthz[name], "ms", None, over)
    note = spread.format(*summary.healthz_range)
    report("/healthz p50 diff", summary.healthz_diff, "ms", None, note)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rev", default=DEFAULT_REV, help="the base revision")
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    parser.add_argument("--requests", type=int, default=REQUESTS)
    args = parser.parse_args()
    base, this = provisioned(args.rev), this_tree()
    started = time.perf_counter()
    print(f"antigravity-proxy A/B ({machine_summary()}, each)", flush=True)
    print(f"base {base.label}: {base.subject}", flush=True)
    print(f"this {this.label}: {this.subject}", flush=True)
    with two_gateways(base, this) as stacks:
        sends = senders(stacks)
        print(envelope_note(stacks, sends), flush=True)
        print(f"{args.rounds} rounds x {args.requests} requests per path", flush=True)
        rounds = measure(sends, args.rounds, args.requests)
    print_summary(summarize(rounds), len(rounds))
    print(f"{time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
