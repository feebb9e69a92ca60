"""`mike-bench worker`: claim queued groups from the store and run them, one after another, until nothing
is left that could still run (or, with --wait, forever).

Any number of workers, on any machines that reach the store, split a queued suite between them: each
group is claimed atomically (benchmark.run_queue), its runs execute exactly as in a local suite (reuse by
config hash, checkpoints, resume), and each run's info names the worker (and the Slurm job, when there
is one) that ran it.
"""

from __future__ import annotations

import os
import sys
import time
from collections import Counter
from dataclasses import dataclass, field

from benchmark.run_queue import (
    CLAIMED,
    QUEUE,
    QUEUED,
    Claimer,
    ClaimHeartbeat,
    claim_next,
    counts,
    finish,
    release,
    work_of,
)
from benchmark.runs import RunBusyError
from benchmark.store import RunStore
from benchmark.workers import RunRecord, run_group

POLL_SECONDS = 2.0


@dataclass
class WorkerSummary:
    groups: int = 0
    failed: int = 0
    records: list[RunRecord] = field(default_factory=list)

    def by_stage(self) -> Counter:
        return Counter(r.stage for r in self.records)


def placement() -> dict:
    """Where this worker runs, for each run's info: the Slurm job when inside one."""
    slurm = {
        k: os.environ[v]
        for k, v in (("job_id", "SLURM_JOB_ID"), ("node", "SLURMD_NODENAME"))
        if v in os.environ
    }
    return {"slurm": slurm} if slurm else {}


def work(store: RunStore, ws, me: Claimer, wait: bool = False, out=sys.stderr) -> WorkerSummary:
    """Claim and run groups until nothing queued can run any more: every entry has ended, or what is
    queued waits on runs that failed and nobody holds a claim that could change it. With `wait`, keep
    polling for new entries instead."""
    summary = WorkerSummary()

    def emit(event) -> None:
        kind, payload = event
        if kind == "done":
            summary.records.append(payload)
            print(f"[{me.name}] trained {payload.label} in {payload.seconds:.1f}s", file=out, flush=True)

    while True:
        entry = claim_next(store, me)
        if entry is None:
            state = counts(store)
            if not wait and not state.get(CLAIMED):
                blocked = state.get(QUEUED, 0)
                if blocked:
                    print(
                        f"[{me.name}] {blocked} queued group(s) wait on runs that failed; nothing else to do",
                        file=out,
                        flush=True,
                    )
                return summary
            time.sleep(POLL_SECONDS)
            continue
        here = store.db[QUEUE].count_documents({"state": CLAIMED, "claimed_by.host": me.host})
        info = {**entry["info"], "worker": me.name, "runs_at_once": here, **placement()}
        try:
            with ClaimHeartbeat(store, entry, me):
                run_group(ws, work_of(entry), info, emit)
        except RunBusyError as exc:  # the same config is live in a process that is not a worker of ours
            print(f"[{me.name}] {exc}; left for later", file=out, flush=True)
            release(store, entry, me)
            time.sleep(POLL_SECONDS)
            continue
        except KeyboardInterrupt:
            release(store, entry, me)  # the run itself is stored INTERRUPTED and resumes wherever it goes
            raise
        except Exception as exc:
            summary.failed += 1
            finish(store, entry, me, error=f"{type(exc).__name__}: {exc}")
            print(f"[{me.name}] group failed: {type(exc).__name__}: {exc}", file=out, flush=True)
            continue
        summary.groups += 1
        finish(store, entry, me)
