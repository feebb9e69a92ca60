"""One stage = one Sacred run, stored by a MongoObserver, reused when an identical config has COMPLETED.

A RunSpec's config fully determines the run; its hash (`meta.config_hash`) is how the store finds it. A run
that did not complete leaves its latest checkpoint in GridFS, and the next attempt resumes from there.
"""

from __future__ import annotations

import io
import logging
import os
import platform
import socket
import subprocess
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

import torch

# Sacred 0.8.7 imports pkg_resources (hence setuptools<82); its deprecation notice is noise here.
warnings.filterwarnings("ignore", message="pkg_resources is deprecated")
from sacred import SETTINGS, Experiment  # noqa: E402
from sacred.observers import MongoObserver  # noqa: E402

from benchmark.store import DB_NAME, RunStore  # noqa: E402
from mike.data.cache import config_hash  # noqa: E402

MAX_CAPTURED_CHARS = 20_000  # captured stdout kept per run: far below MongoDB's 16 MB document limit
# Capture through sys.stdout (the default 'fd' mode tees through a subprocess, which fights progress bars);
# provenance comes from the git commit and PACKAGES, not from Sacred scanning thousands of torch modules.
SETTINGS.CAPTURE_MODE = "sys"
SETTINGS.DISCOVER_SOURCES = "none"
SETTINGS.DISCOVER_DEPENDENCIES = "none"
SACRED_LOGGER = logging.getLogger("mike_bench.sacred")
SACRED_LOGGER.setLevel(logging.WARNING)
PACKAGES = ("torch", "torchvision", "numpy", "pycocotools", "sacred", "pymongo", "mike-bench")


class RunBusyError(RuntimeError):
    """Another live process is running the same config right now."""


@dataclass(frozen=True)
class RunSpec:
    """A stage to run: its full config (JSON-able) and a short label for people."""

    stage: str
    label: str
    config: dict = field(hash=False)

    @property
    def hash(self) -> str:
        return config_hash(self.config)


def keep_tail(text: str) -> str:
    """Sacred's captured-output filter: keep the last MAX_CAPTURED_CHARS characters."""
    return (
        text
        if len(text) <= MAX_CAPTURED_CHARS
        else "[... earlier output dropped ...]\n" + text[-MAX_CAPTURED_CHARS:]
    )


def git_commit() -> str:
    try:
        root = Path(__file__).resolve().parent.parent
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=5
        )
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def package_versions() -> dict[str, str]:
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "absent"
    return versions


class RunContext:
    """What a stage function gets: metric logging, checkpoints and artifacts in the store."""

    def __init__(self, sacred_run, store: RunStore, previous: list[dict]):
        self._run = sacred_run
        self._store = store
        self._previous = previous  # unfinished attempts at the same config, newest first
        self.resumed_from: str | None = None

    def log(self, step: int, metrics: dict[str, float]) -> None:
        for name, value in metrics.items():
            self._run.log_scalar(name, value, step)

    def add_artifact(self, name: str, payload: dict) -> None:
        # Sacred's MongoObserver copies the file into GridFS inside add_artifact, so it can go at once.
        with tempfile.TemporaryDirectory(prefix="mike-bench-") as scratch:
            path = Path(scratch) / name
            torch.save(payload, path)
            self._run.add_artifact(str(path), name=name, content_type="application/octet-stream")

    # The Checkpointer protocol of mike.training.loop:
    def load(self) -> dict | None:
        for attempt in self._previous:
            data = self._store.artifact(attempt, "checkpoint.pt")
            if data is not None:
                self.resumed_from = str(attempt["_id"])
                self._run.info["resumed_from"] = self.resumed_from
                return torch.load(io.BytesIO(data), weights_only=True)
        return None

    def save(self, state: dict) -> None:
        self.add_artifact("checkpoint.pt", state)
        self._run.info["checkpoint_step"] = state["step"]


def execute(
    spec: RunSpec, store: RunStore, mongo_url: str, stage_fn: Callable[[RunContext], dict], extra_info: dict
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
    ex = Experiment(spec.stage, save_git_info=False)
    ex.captured_out_filter = keep_tail
    ex.logger = SACRED_LOGGER
    ex.observers.append(MongoObserver(url=mongo_url, db_name=DB_NAME))
    ex.add_config(spec.config)

    @ex.main
    def main(_run):
        _run.info.update(
            {
                "config_hash": spec.hash,
                "label": spec.label,
                "git_commit": git_commit(),
                "versions": package_versions(),
                "hardware": hardware(),
                **extra_info,
            }
        )
        started = time.time()
        result = stage_fn(RunContext(_run, store, previous))
        _run.info["seconds"] = time.time() - started
        return result

    # meta is written when the run starts (info only at heartbeats), so even a run killed in its first
    # seconds can be found by its config hash, and its process checked for life.
    run = ex.run(
        meta_info={
            "config_hash": spec.hash,
            "label": spec.label,
            "pid": os.getpid(),
            "hostname": socket.gethostname(),
        }
    )
    if run.status != "COMPLETED":  # pragma: no cover - sacred raises on failure
        raise RuntimeError(f"{spec.label}: run ended {run.status}")
    return store.db.runs.find_one({"_id": run._id})


def hardware() -> dict:
    gpu = torch.cuda.get_device_name() if torch.cuda.is_available() else None
    return {
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "gpu": gpu,
    }
