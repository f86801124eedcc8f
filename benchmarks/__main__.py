"""``python -m benchmarks``: run every benchmark module in order, print one report.

A benchmark module has a ``TITLE`` and a ``run()`` that starts what it needs,
prints its lines through ``harness.report`` and returns the measurements. Add a
client path by writing ``benchmarks/<path>.py`` and listing it in ``MODULES``.
Missed goals are reported, never fatal: the exit status is non-zero only when a
benchmark could not run at all.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from typing import Final, Protocol

from benchmarks import (
    agent_request,
    anthropic_path,
    capacity,
    gemini_path,
    memory,
    openai_path,
    state_backend,
    stream_cpu,
    stream_translation,
    usage_ledger,
)
from benchmarks.harness import Measurement, machine_summary


class Benchmark(Protocol):
    TITLE: str

    def run(self) -> list[Measurement]: ...


MODULES: Final[Sequence[Benchmark]] = (
    gemini_path,
    openai_path,
    anthropic_path,
    agent_request,
    stream_translation,
    stream_cpu,
    usage_ledger,
    state_backend,
    capacity,
    memory,
)


def main() -> None:
    started = time.perf_counter()
    print(f"antigravity-proxy benchmarks ({machine_summary()})", flush=True)
    measurements: list[Measurement] = []
    for module in MODULES:
        print(module.TITLE, flush=True)
        measurements += labelled(module.TITLE.split()[0], module.run())
    print(summary(measurements, time.perf_counter() - started))


def labelled(path: str, measurements: Sequence[Measurement]) -> list[Measurement]:
    """``measurements`` named after their path too, so the summary says whose."""
    return [dataclasses.replace(m, name=f"{path} {m.name}") for m in measurements]


def summary(measurements: Sequence[Measurement], seconds: float) -> str:
    """``goals met: 2/2`` plus the names of missed goals and the total time."""
    judged = [m for m in measurements if m.met is not None]
    missed = [m.name for m in judged if not m.met]
    line = f"goals met: {len(judged) - len(missed)}/{len(judged)}"
    if missed:
        line += f" (missed: {', '.join(missed)})"
    return f"{line}; {seconds:.1f} s"


if __name__ == "__main__":
    main()
