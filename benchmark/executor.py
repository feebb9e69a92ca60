"""Runs a suite's plan: reuses COMPLETED runs and trains the rest, in this process or in a pool of K.

With K > 1 worker processes (each with its share of the CPU threads, or its own GPU), a group starts as soon
as every run it depends on has COMPLETED, in plan order. Output is one line per run (a progress bar only
for a single process on a terminal), then a suite line with the time per stage and the bookkeeping cost.
"""

from __future__ import annotations

import concurrent.futures as cf
import datetime as dt
import multiprocessing
import queue
import sys
import time
from dataclasses import dataclass, field

from benchmark.housekeeping import distrust_what_will_be_loaded
from benchmark.schedule import Group, group_plan, next_ready
from benchmark.workers import RunRecord, WorkerSetup, init_worker, pool_task, run_group
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
    records: list[RunRecord] = field(default_factory=list)

    def bookkeeping_per_run(self) -> float:
        return sum(r.bookkeeping for r in self.records) / max(len(self.records), 1)


def _estimate(remaining: dict[str, int], seconds: dict[str, float], counts: dict[str, int]) -> float:
    """Seconds left: each stage's remaining runs at that stage's mean so far (else the overall mean)."""
    overall = sum(seconds.values()) / max(sum(counts.values()), 1)
    return sum(n * (seconds[st] / counts[st] if counts.get(st) else overall) for st, n in remaining.items())


class _Progress:
    """The suite command's output: a line per finished run with the time left, stage totals."""

    def __init__(self, plan: list[Planned], completed: set[str], out, workers: int):
        self.total, self.out, self.workers = len(plan), out, workers
        self.done = len([p for p in plan if p.spec.hash in completed])
        self.remaining: dict[str, int] = {}
        for p in plan:
            if p.spec.hash not in completed:
                self.remaining[p.spec.stage] = self.remaining.get(p.spec.stage, 0) + 1
        self.by_stage: dict[str, float] = {}
        self.counts: dict[str, int] = {}
        self.records: list[RunRecord] = []
        self.started = time.time()

    def event(self, event) -> None:
        kind, payload = event
        if kind != "done":
            return
        r: RunRecord = payload
        self.records.append(r)
        self.done += 1
        self.by_stage[r.stage] = self.by_stage.get(r.stage, 0.0) + r.seconds
        self.counts[r.stage] = self.counts.get(r.stage, 0) + 1
        self.remaining[r.stage] -= 1
        left = _estimate(self.remaining, self.by_stage, self.counts) / self.workers
        where = f" [worker {r.worker}]" if self.workers > 1 else ""
        print(
            f"[{self.done}/{self.total}] trained {r.label} in {r.seconds:.1f}s{where} "
            f"(elapsed {_clock(time.time() - self.started)}, ~{_clock(left)} left)",
            file=self.out,
            flush=True,
        )


def _bar_wrapper(out):
    """Per-run progress bars, on a terminal only (no carriage-return frames in logs)."""
    from tqdm import tqdm

    class ProgressContext:
        def __init__(self, ctx, spec):
            train = spec.config.get("train", {})
            # step stages count steps; epoch stages (losses) epochs, up to max_epochs (early stopping may
            # end them sooner); the probe stage counts its probes
            total = train.get("steps") or (None if spec.stage == "probe" else train.get("max_epochs"))
            unit = "step" if train.get("steps") else ("probe" if spec.stage == "probe" else "epoch")
            self._ctx = ctx
            self._per_step = unit == "step"
            self._bar = tqdm(total=total, desc=f"  {spec.label}", unit=unit, file=out, leave=False)

        def __getattr__(self, name):
            return getattr(self._ctx, name)

        def log(self, step, metrics):
            self._ctx.log(step, metrics)
            self._bar.n = step + 1 if self._per_step else self._bar.n + 1
            loss = next((metrics[k] for k in ("loss", "val_loss", "probe_val_loss") if k in metrics), None)
            if loss is not None:
                self._bar.set_postfix(loss=f"{loss:.4f}", refresh=False)
            self._bar.refresh()
            if self._bar.total and self._bar.n >= self._bar.total:
                self._bar.close()

    return ProgressContext


def _work(group: Group) -> list:
    return [(p.spec, [d.spec.hash for d in p.deps]) for p in group.runs]


def run_plan(plan: list[Planned], ws, setup: WorkerSetup, jobs: int = 1, out=sys.stderr) -> SuiteSummary:
    """Train every run of the plan not yet COMPLETED (ws: this process's Workspace, for jobs == 1)."""
    completed = ws.store.completed_hashes()
    # a damaged artifact that a run still to train would load: that run's dependency is trained again
    completed -= distrust_what_will_be_loaded(
        ws.store, plan, completed, lambda line: print(line, file=out, flush=True)
    )
    groups = group_plan(plan, completed)
    reused = len(plan) - sum(len(g.runs) for g in groups)
    if reused:
        print(f"{reused} of {len(plan)} runs already COMPLETED: reused", file=out, flush=True)
    progress = _Progress(plan, completed, out, max(jobs, 1))
    if jobs <= 1:
        wrap = _bar_wrapper(out) if getattr(out, "isatty", lambda: False)() else None
        done, pending = set(completed), list(groups)
        while pending:
            group = next_ready(pending, done)
            if group is None:
                raise RuntimeError(f"{len(pending)} groups wait for runs that are not in the plan")
            run_group(ws, _work(group), setup.extra_info, progress.event, wrap)
            done.update(group.hashes)
    else:
        _run_pool(groups, completed, setup, jobs, progress, alone_if_timed=setup.device == "cpu")
    trained = len(progress.records)
    return SuiteSummary(
        len(plan), reused, trained, time.time() - progress.started, progress.by_stage, progress.records
    )


def _run_pool(
    groups: list[Group], completed: set[str], setup: WorkerSetup, jobs: int, progress, alone_if_timed: bool
) -> None:
    """Dispatch ready groups to `jobs` spawned workers; stop dispatching at the first failure. With
    alone_if_timed (CPU workers share the cores), a timed group runs alone: while other groups run, a free
    worker takes the next untimed ready group instead of idling until the pool empties, so timed groups run
    once no untimed group is ready (in `suite all`, after the MIKE suites' work)."""
    context = multiprocessing.get_context("spawn")  # no fork of a process with threads and a server
    events, counter = context.Queue(), context.Value("i", 0)
    done, pending = set(completed), list(groups)
    running: dict[cf.Future, Group] = {}
    failure: BaseException | None = None
    pool = cf.ProcessPoolExecutor(jobs, context, initializer=init_worker, initargs=(setup, events, counter))
    try:
        while pending or running:
            while failure is None and len(running) < jobs:
                if alone_if_timed and any(g.timed for g in running.values()):
                    break
                group = next_ready(pending, done, untimed_only=alone_if_timed and bool(running))
                if group is None:
                    break
                info = {"runs_at_once": 1} if alone_if_timed and group.timed else None
                running[pool.submit(pool_task, _work(group), info)] = group
            if not running:
                if failure is None:  # nothing runs and nothing is ready: a dependency never completed
                    failure = RuntimeError(f"{len(pending)} groups wait for runs that are not in the plan")
                break
            finished, _ = cf.wait(running, timeout=0.2, return_when=cf.FIRST_COMPLETED)
            _drain(events, progress)
            for future in finished:
                group = running.pop(future)
                try:
                    future.result()
                    done.update(group.hashes)
                except BaseException as exc:  # reported after the running groups end
                    failure = failure or exc
    except KeyboardInterrupt:
        workers = list((getattr(pool, "_processes", None) or {}).values())  # shutdown forgets them
        pool.shutdown(wait=False, cancel_futures=True)
        for process in workers:
            process.terminate()  # SIGTERM: each worker stores its run INTERRUPTED (workers.init_worker)
        deadline = time.time() + 10
        for process in workers:
            process.join(timeout=max(deadline - time.time(), 0.1))
            if process.is_alive():  # its interrupt was swallowed somewhere: the run is marked dead later
                process.kill()
                process.join()
        raise
    pool.shutdown(wait=True)
    _drain(events, progress, wait=0.5)  # workers have exited: whatever they sent is in the queue
    if failure is not None:
        raise failure


def _drain(events, progress, wait: float = 0.0) -> None:
    while True:
        try:
            progress.event(events.get(timeout=wait) if wait else events.get_nowait())
        except queue.Empty:
            return
