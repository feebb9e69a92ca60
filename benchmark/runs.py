"""One stage = one Sacred run, stored by a MongoObserver, reused when an identical config has COMPLETED.

A RunSpec's config fully determines the run; its hash (`meta.config_hash`) is how the store finds it. A run
that did not complete leaves its latest checkpoint in GridFS, and the next attempt resumes from there.
"""

from __future__ import annotations

import functools
import hashlib
import io
import logging
import os
import platform
import re
import socket
import subprocess
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import torch

# Sacred 0.8.7 imports pkg_resources (hence setuptools<82); its deprecation notice is noise here.
warnings.filterwarnings("ignore", message="pkg_resources is deprecated")
from sacred import SETTINGS  # noqa: E402

from benchmark.housekeeping import (  # noqa: E402
    CHECKPOINT,
    drop_older_checkpoints,
    mark_dead,
    prune_checkpoints,
)
from benchmark.observer import CountedObserver, new_experiment  # noqa: E402
from benchmark.run_log import RunLog, echo_stream  # noqa: E402
from benchmark.store import DB_NAME, RunStore, process_identity  # noqa: E402
from mike.errors import UserError  # noqa: E402
from suites.plan import RunSpec  # noqa: E402,F401  (re-exported: the runner's unit of work)

# Capture through sys.stdout (the default 'fd' mode tees through a subprocess, which fights progress bars);
# provenance comes from the git commit and PACKAGES, not from Sacred scanning thousands of torch modules.
SETTINGS.CAPTURE_MODE = "sys"
SETTINGS.DISCOVER_SOURCES = "none"
SETTINGS.DISCOVER_DEPENDENCIES = "none"
SACRED_LOGGER = logging.getLogger("mike_bench.sacred")
SACRED_LOGGER.setLevel(logging.WARNING)
PACKAGES = ("torch", "torchvision", "numpy", "pycocotools", "sacred", "pymongo", "mike-bench")


class RunBusyError(UserError):
    """Another live process is running the same config right now."""


@functools.cache  # once per process: a subprocess per run would be bookkeeping for nothing
def git_commit() -> str:
    """The checkout's commit, else the one the Docker image was built from (it has no .git)."""
    built_from = os.environ.get("MIKE_BENCH_GIT_COMMIT", "").strip() or "unknown"
    try:
        root = Path(__file__).resolve().parent.parent
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=5
        )
        return out.stdout.strip() or built_from
    except (OSError, subprocess.SubprocessError):
        return built_from


@functools.cache
def package_versions() -> dict[str, str]:
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "absent"
    return versions


@dataclass
class RunTiming:
    """Where one run's seconds went: the stage's own work, and the store writes made from inside it."""

    body: float = 0.0  # the stage function, start to end
    store: float = 0.0  # metrics and artifacts written during the stage function


class RunContext:
    """What a stage function gets: metric logging, checkpoints and artifacts in the store."""

    def __init__(self, sacred_run, store: RunStore, previous: list[dict], timing: RunTiming, run_log: RunLog):
        self._run = sacred_run
        self._run_log = run_log
        self._store = store
        self._previous = previous  # unfinished attempts at the same config, newest first
        self._timing = timing
        self.resumed_from: str | None = None
        # every metric logged so far, (step, value) per name: a checkpoint carries the curve up to its step,
        # so a resumed run holds the whole curve, not only the steps after the checkpoint
        self._curve: dict[str, list[tuple[int, float]]] = {}

    def log(self, step: int, metrics: dict[str, float]) -> None:
        self._record(step, metrics)
        self._run_log.metrics(step, metrics)

    def _record(self, step: int, metrics: dict[str, float]) -> None:
        started = time.perf_counter()
        for name, value in metrics.items():
            self._run.log_scalar(name, value, step)
            self._curve.setdefault(name, []).append((step, float(value)))
        self._timing.store += time.perf_counter() - started

    def add_artifact(self, name: str, payload: dict) -> None:
        started = time.perf_counter()
        # Sacred's MongoObserver copies the file into GridFS inside add_artifact, so it can go at once.
        with tempfile.TemporaryDirectory(prefix="mike-bench-") as scratch:
            path = Path(scratch) / name
            torch.save(payload, path)
            # the digest goes into the GridFS file's own record, written with it; it is checked before a
            # COMPLETED run's artifacts are reused (benchmark.housekeeping)
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            self._run.add_artifact(
                str(path), name=name, content_type="application/octet-stream", metadata={"sha256": digest}
            )
        self._timing.store += time.perf_counter() - started

    # The Checkpointer protocol of mike.training.loop:
    def load(self) -> dict | None:
        for attempt in self._previous:
            try:
                data = self._store.artifact(attempt, CHECKPOINT)
                if data is None:
                    continue
                state = torch.load(io.BytesIO(data), weights_only=True)
            except Exception as exc:  # a damaged checkpoint: an older attempt's, or a fresh start
                print(f"mike-bench: checkpoint of run {attempt['_id']} unreadable ({exc}); not resumed from")
                continue
            self.resumed_from = str(attempt["_id"])
            self._run.info["resumed_from"] = self.resumed_from
            curve = state.pop("curve", None)
            if curve is None:  # a checkpoint written before curves were kept in it: the stored metrics
                curve = self._store.metrics_of(attempt["_id"])
            self._replay(curve, state["step"])
            self._run_log.note(f"resumed from run {attempt['_id']}'s checkpoint at step {state['step']}")
            self._run.info["curve_replayed"] = True  # the attempt's metrics are now a copy (gc may drop them)
            return state
        return None

    def _replay(self, curve: dict, last_step: int) -> None:
        """Log the resumed attempt's curve up to its checkpoint's step into this run."""
        for name, points in curve.items():
            for step, value in points.tolist() if torch.is_tensor(points) else points:
                if step <= last_step:
                    self._record(int(step), {name: value})

    def save(self, state: dict) -> None:
        curve = {name: torch.tensor(points, dtype=torch.float64) for name, points in self._curve.items()}
        self.add_artifact(CHECKPOINT, {**state, "curve": curve})
        self._run.info["checkpoint_step"] = state["step"]
        # only the newest checkpoint is ever resumed from: the older ones of this run go now
        drop_older_checkpoints(self._store, self._run._id)


def execute(
    spec: RunSpec,
    store: RunStore,
    stage_fn: Callable[[RunContext], dict],
    extra_info: dict,
    timing: RunTiming | None = None,
) -> dict:
    """Run spec as a Sacred run unless it has COMPLETED before; returns the COMPLETED run document."""
    done = store.completed(spec.hash)
    if done is not None:
        return done
    previous = store.unfinished(spec.hash)
    live = [r for r in previous if r.get("status") == "RUNNING" and not store.is_stale(r)]
    if live:
        raise RunBusyError(
            f"{spec.label}: run {live[0]['_id']} with the same config is running in another process"
        )
    mark_dead(store, [r for r in previous if r.get("status") == "RUNNING"])  # all of them are dead now
    timing = timing if timing is not None else RunTiming()
    # Named "stage: label" so that a list of runs (Omniboard's Experiment Name) says which run is which.
    ex = new_experiment(f"{spec.stage}: {spec.label}")
    # No source files in GridFS: Sacred finds stored sources by an md5 that pymongo 4 no longer records,
    # so it would upload runs.py once per run. Provenance is the commit, given as Sacred's repository entry.
    ex.sources.clear()
    ex.get_experiment_info = _with_provenance(ex.get_experiment_info)
    run_log = RunLog(spec.stage, spec.label, spec.config, echo_stream())
    ex.captured_out_filter = run_log.captured
    ex.logger = SACRED_LOGGER
    ex.observers.append(CountedObserver(client=store.client, db_name=DB_NAME))  # one connection for all runs
    ex.add_config(spec.config)

    @ex.main
    def main(_run):
        _run.info.update(
            {
                "config_hash": spec.hash,
                "label": spec.label,
                "git_commit": git_commit(),
                "versions": dict(package_versions()),
                "hardware": hardware(),
                **extra_info,
            }
        )
        started = time.perf_counter()
        result = unshared(stage_fn(RunContext(_run, store, previous, timing, run_log)))
        run_log.result(result)
        timing.body = time.perf_counter() - started
        _run.info["seconds"] = timing.body
        return result

    # meta is written when the run starts (info only at heartbeats), so even a run killed in its first
    # seconds can be found by its config hash, and its process checked for life.
    run = ex.run(
        meta_info={
            "config_hash": spec.hash,
            "label": spec.label,
            "pid": os.getpid(),
            "process": process_identity(os.getpid()),  # a reused pid is not this process
            "hostname": socket.gethostname(),
            "comment": spec.label,  # Omniboard's Notes column
        }
    )
    if run.status != "COMPLETED":  # pragma: no cover - sacred raises on failure
        raise RuntimeError(f"{spec.label}: run ended {run.status}")
    # Omniboard's tags: filter a list of runs by stage, suite or profile
    tags = [spec.stage, *(str(extra_info[k]) for k in ("suite", "profile") if extra_info.get(k))]
    store.db.runs.update_one({"_id": run._id}, {"$set": {"omniboard.tags": tags}})
    # its final model is stored: its checkpoints, and those of the attempts it resumed, are dead weight
    prune_checkpoints(store, [run._id, *(r["_id"] for r in previous)])
    return store.db.runs.find_one({"_id": run._id})


def unshared(value):
    """A copy in which no list or dict appears twice: Sacred's jsonpickle flattening writes a second
    appearance of one object as a back-reference ({'py/id': 1}), which every other reader sees as garbage."""
    if isinstance(value, dict):
        return {k: unshared(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [unshared(v) for v in value]
    return value


def _with_provenance(experiment_info: Callable[[], dict]) -> Callable[[], dict]:
    """Sacred's experiment info with the checkout as its repository (commit, dirty flag) and the packages
    as its dependencies: what Omniboard's Experiment Details shows, without Sacred scanning sources."""

    def info() -> dict:
        found = experiment_info()
        found["repositories"] = [repository()]
        found["dependencies"] = [f"{name}=={version}" for name, version in package_versions().items()]
        return found

    return info


@functools.cache
def repository() -> dict:
    """The checkout (its origin, else its folder), its commit, and whether the working tree differed from
    it (None: unknown, as in the image, which has no .git)."""
    root = Path(__file__).resolve().parent.parent

    def git(*args: str) -> str | None:
        try:
            out = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, timeout=10)
        except (OSError, subprocess.SubprocessError):
            return None
        return out.stdout if out.returncode == 0 else None

    status = git("status", "--porcelain", "--untracked-files=no")
    origin = (git("config", "--get", "remote.origin.url") or "").strip()
    return {
        "url": _without_credentials(origin) or str(root),
        "commit": git_commit(),
        "dirty": None if status is None else bool(status.strip()),
    }


def _without_credentials(url: str) -> str:
    """A clone URL with any user:token@ removed (CI clones carry tokens there); stored runs never hold one."""
    return re.sub(r"(?<=://)[^/@]*@", "", url)


def hardware() -> dict:
    gpu = torch.cuda.get_device_name() if torch.cuda.is_available() else None
    return {
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        # the instruction set torch's CPU kernels run on (AVX512, AVX2, ...): results of one seed are
        # bit-equal only between machines that share it
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "torch_threads": torch.get_num_threads(),
        "gpu": gpu,
    }
