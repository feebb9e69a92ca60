"""Runs a suite's plan in order: reuses COMPLETED runs, trains the rest; a bar per run and a suite line."""

from __future__ import annotations

import datetime as dt
import sys
import time
from dataclasses import dataclass

from tqdm import tqdm

from benchmark.runs import execute
from benchmark.stages import Workspace
from suites.plan import Planned


def _clock(seconds: float) -> str:
    return str(dt.timedelta(seconds=int(seconds)))


@dataclass
class SuiteSummary:
    total: int
    reused: int
    trained: int
    seconds: float
    seconds_by_stage: dict[str, float]


class _ProgressContext:
    """Wraps a RunContext so every logged step also moves the run's progress bar."""

    def __init__(self, ctx, bar: tqdm):
        self._ctx, self._bar = ctx, bar

    def __getattr__(self, name):
        return getattr(self._ctx, name)

    def log(self, step, metrics):
        self._ctx.log(step, metrics)
        self._bar.n = step + 1
        self._bar.set_postfix(loss=f"{metrics.get('loss', float('nan')):.4f}", refresh=False)
        self._bar.refresh()


def _estimate(remaining: dict[str, int], seconds: dict[str, float], counts: dict[str, int]) -> float:
    """Seconds left: each stage's remaining runs at that stage's mean so far (else the overall mean)."""
    overall = sum(seconds.values()) / max(sum(counts.values()), 1)
    return sum(n * (seconds[st] / counts[st] if counts.get(st) else overall) for st, n in remaining.items())


def run_plan(
    plan: list[Planned], ws: Workspace, mongo_url: str, extra_info: dict, out=sys.stderr
) -> SuiteSummary:
    store = ws.store
    completed = store.completed_hashes()
    remaining = {}  # stage -> runs still to train, for a per-stage time estimate
    for p in plan:
        if p.spec.hash not in completed:
            remaining[p.spec.stage] = remaining.get(p.spec.stage, 0) + 1
    docs: dict[str, dict] = {}
    started = time.time()
    by_stage: dict[str, float] = {}
    count_by_stage: dict[str, int] = {}
    reused = trained = 0
    last_encoder = None
    for k, planned in enumerate(plan, 1):
        spec = planned.spec
        prefix = f"[{k}/{len(plan)}]"
        done = store.completed(spec.hash) if spec.hash in completed else None
        if done is not None:
            docs[spec.hash] = done
            reused += 1
            print(f"{prefix} reused  {spec.label}", file=out, flush=True)
            continue
        if spec.stage == "downstream" and spec.config["encoder"] != last_encoder:
            ws.forget_embeddings()  # embeddings of the previous encoder are no longer needed
            last_encoder = spec.config["encoder"]
        dep_docs = [docs[d.spec.hash] for d in planned.deps]
        steps = spec.config.get("train", {}).get("steps", 0)
        bar = tqdm(
            total=steps,
            desc=f"  {spec.label}",
            file=out,
            leave=False,
            disable=steps == 0,
            dynamic_ncols=True,
            mininterval=0.5,
        )
        run_started = time.time()
        try:
            doc = execute(
                spec,
                store,
                mongo_url,
                lambda ctx, p=planned, b=bar, d=dep_docs: p.body(
                    ws, p.spec.config, _ProgressContext(ctx, b), d
                ),
                extra_info,
            )
        finally:
            bar.close()
        seconds = time.time() - run_started
        docs[spec.hash] = doc
        trained += 1
        by_stage[spec.stage] = by_stage.get(spec.stage, 0.0) + seconds
        remaining[spec.stage] -= 1
        count_by_stage[spec.stage] = count_by_stage.get(spec.stage, 0) + 1
        left = _estimate(remaining, by_stage, count_by_stage)
        print(
            f"{prefix} trained {spec.label} in {seconds:.1f}s (elapsed {_clock(time.time() - started)}, "
            f"~{_clock(left)} left)",
            file=out,
            flush=True,
        )
    return SuiteSummary(len(plan), reused, trained, time.time() - started, by_stage)
