"""Shared test helpers: the real CLI in a subprocess, and tiny SVHN / STL-10 files in their formats."""

import os
import subprocess
import sys

import numpy as np


def mike_bench(*args, cwd, env=None, timeout=900):
    return subprocess.run(
        [sys.executable, "-m", "benchmark.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )


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
