"""Shared test helpers: the real CLI in a subprocess, and tiny SVHN / STL-10 files in their formats."""

import functools
import os
import subprocess
import sys
import time

import numpy as np

# Importing torch takes about this long on a quiet 2-core machine: the baseline the timeouts scale with.
QUIET_IMPORT_S = 4.0


@functools.cache
def slowness() -> float:
    """How much slower than a quiet machine this one is now (≥ 1), measured once per test session by
    importing torch in a fresh process, times MIKE_BENCH_TEST_TIMEOUT_SCALE (default 1). A busy machine
    then gets a slow pass instead of a timeout."""
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import torch"], check=True, capture_output=True)
    measured = time.perf_counter() - started
    return max(1.0, measured / QUIET_IMPORT_S) * float(os.environ.get("MIKE_BENCH_TEST_TIMEOUT_SCALE", "1"))


def timeout_for(seconds: float) -> float:
    """A generous limit for a command that takes well under `seconds` on a quiet machine."""
    return seconds * slowness()


def wait_for(condition, timeout: float, what: str) -> None:
    """Poll condition() every 0.5 s until it holds, within timeout_for(timeout)."""
    deadline = time.time() + timeout_for(timeout)
    while time.time() < deadline:
        if condition():
            return
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


def mike_bench(*args, cwd, env=None, timeout=900):
    return subprocess.run(
        [sys.executable, "-m", "benchmark.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout_for(timeout),
        env={**os.environ, **(env or {})},
    )


def local_results(workdir, *args, cwd) -> dict:
    """Run `mike-bench suite *args` in one local process in workdir; its results by config hash."""
    from benchmark.store import DB_NAME, connect, embedded_server

    out = mike_bench("suite", *args, "--jobs", "1", "--workdir", str(workdir), cwd=cwd)
    assert out.returncode == 0, out.stderr[-2000:]
    with embedded_server(workdir / "db") as url:
        runs = connect(url)[DB_NAME].runs.find({"status": "COMPLETED"}, {"meta": 1, "result": 1})
        return {r["meta"]["config_hash"]: r["result"] for r in runs}


def assert_same_results(runs, expected: dict) -> None:
    """Each run's result equals the expected one of its config hash, floats up to rounding (the synthetic
    COCO's folder is each store's own)."""
    import pytest

    for run in runs:
        for name, value in expected[run["meta"]["config_hash"]].items():
            if isinstance(value, float):
                assert run["result"][name] == pytest.approx(value, rel=1e-4, abs=1e-5), name
            elif name != "coco_root":
                assert run["result"][name] == value


def fake_svhn(root, n=6):
    import scipy.io

    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for split in ("extra", "train", "test"):
        x = rng.integers(0, 255, (32, 32, 3, n), dtype=np.uint8)
        scipy.io.savemat(
            root / f"{split}_32x32.mat", {"X": x, "y": np.arange(1, n + 1).reshape(-1, 1) % 10 + 1}
        )
    return root


def fake_stl10(root, n=4):
    folder = root / "stl10_binary"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for split in ("unlabeled", "train", "test"):
        rng.integers(0, 255, n * 3 * 96 * 96, dtype=np.uint8).tofile(folder / f"{split}_X.bin")
        if split != "unlabeled":
            np.arange(1, n + 1, dtype=np.uint8).tofile(folder / f"{split}_y.bin")
    return root
