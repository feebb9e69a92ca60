"""Running a group of runs in one process: the suite command's own process, or a worker of its pool.

A worker is set up once (threads, store connection, per-process caches) and then runs groups one after
another. Runs find their dependencies in the store by config hash, never in another process's memory.
"""

from __future__ import annotations

import os
import pickle
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from suites.plan import RunSpec

Event = tuple  # ("start", label) or ("done", RunRecord), sent to the suite command for its output


@dataclass(frozen=True)
class RunRecord:
    hash: str
    stage: str
    label: str
    seconds: float  # wall clock, bookkeeping included
    body: float  # the stage's own work
    store: float  # metrics and artifacts written from inside the stage
    worker: int

    @property
    def bookkeeping(self) -> float:
        """Sacred, MongoDB and artifacts: everything but the stage's computation."""
        return self.seconds - self.body + self.store


@dataclass(frozen=True)
class WorkerSetup:
    mongo_url: str
    cache_dir: Path
    device: str  # 'cpu', 'cuda' (a pool spreads workers over the GPUs) or e.g. 'cuda:1'
    threads: int | None  # torch threads per process (None: torch's default)
    extra_info: dict


class RunFailed(RuntimeError):
    """A run raised an error that could not travel back from its worker as itself."""


_WORKER: dict = {}  # this process's Workspace, setup and event sink (pool workers only)


def set_threads(threads: int | None) -> None:
    """Fix torch's thread count before its first use; a single thread never spins waiting for others.
    Also keeps freed memory in the process (benchmark.allocator): every process that trains comes here."""
    from benchmark.allocator import keep_freed_memory

    keep_freed_memory()
    if threads:
        os.environ["OMP_NUM_THREADS"] = str(threads)
        os.environ["MKL_NUM_THREADS"] = str(threads)
    import torch

    if threads:
        torch.set_num_threads(threads)


def init_worker(setup: WorkerSetup, events, counter) -> None:
    """Pool initializer: threads, the device of this worker, a store connection, empty caches."""
    from benchmark.interrupts import interrupt_on_sigterm

    interrupt_on_sigterm(worker=True)
    set_threads(setup.threads)
    import torch

    from benchmark.stages import Workspace
    from benchmark.store import RunStore, connect, redact

    with counter.get_lock():
        index = counter.value
        counter.value += 1
    device = setup.device
    if device == "cuda" and torch.cuda.device_count() > 1:
        device = f"cuda:{index % torch.cuda.device_count()}"  # one GPU per worker, round robin
    store = RunStore(connect(setup.mongo_url), redact(setup.mongo_url))
    _WORKER.update(ws=Workspace(store, setup.cache_dir, device), setup=setup, events=events, index=index)


def pool_task(runs: list[tuple[RunSpec, list[str]]], info: dict | None = None) -> list[RunRecord]:
    """Runs one group inside a pool worker (info: run info that differs from the pool's, e.g. a run that
    ran alone); errors come back picklable, named by their run."""
    from benchmark.interrupts import running

    try:
        extra = {**_WORKER["setup"].extra_info, **(info or {})}
        with running():
            return run_group(_WORKER["ws"], runs, extra, _WORKER["events"].put)
    except KeyboardInterrupt:  # SIGTERM or Ctrl-C: the run is stored INTERRUPTED, and the pool is closing
        os._exit(130)
    except Exception as exc:
        try:
            pickle.dumps(exc)
        except Exception:
            raise RunFailed(f"{type(exc).__name__}: {exc}") from None
        raise


def run_group(
    ws, runs: list[tuple[RunSpec, list[str]]], extra_info: dict, emit: Callable[[Event], None], wrap=None
) -> list[RunRecord]:
    """Execute each run of a group in order; wrap(ctx, spec) may decorate the context (progress bars)."""
    from benchmark.runs import RunTiming, execute
    from benchmark.stage_registry import stage_body

    ws.forget_embeddings()  # a new group: the previous encoder's embeddings are no longer needed
    records = []
    for spec, dep_hashes in runs:
        deps = [ws.store.completed(h) for h in dep_hashes]
        missing = [h for h, d in zip(dep_hashes, deps, strict=True) if d is None]
        if missing:
            raise RunFailed(f"{spec.label}: its dependencies {missing} have not COMPLETED")
        body = stage_body(spec.stage)
        emit(("start", spec.label))
        timing, started = RunTiming(), time.perf_counter()

        def stage(ctx, spec=spec, body=body, deps=deps):
            return body(ws, spec.config, wrap(ctx, spec) if wrap else ctx, deps)

        execute(spec, ws.store, stage, extra_info, timing)
        record = RunRecord(
            spec.hash,
            spec.stage,
            spec.label,
            time.perf_counter() - started,
            timing.body,
            timing.store,
            _WORKER.get("index", 0),
        )
        emit(("done", record))
        records.append(record)
    return records
