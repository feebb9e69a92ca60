"""benchmark.allocator: freed activation-sized blocks are reused, not faulted in again at every step."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

PATTERN = textwrap.dedent(
    """
    import resource, sys
    import torch
    if sys.argv[1] == "keep":
        from benchmark.allocator import keep_freed_memory
        assert keep_freed_memory()
    x = torch.rand(32, 8, 64, 64)
    def step():  # a training step's pattern: activations of a few MiB made, then freed
        kept = [x * k for k in range(12)]
        return sum(t.sum() for t in kept)
    for _ in range(3):
        step()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(20):
        step()
    print((resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 20)
    """
)


def faults_per_step(mode: str) -> float:
    out = subprocess.run([sys.executable, "-c", PATTERN, mode], capture_output=True, text=True, check=True)
    return float(out.stdout.strip())


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_freed_activations_are_reused_without_page_faults():
    default, kept = faults_per_step("default"), faults_per_step("keep")
    # 12 tensors of 4 MiB are ~12,000 pages: glibc's defaults fault most of them in again at every step
    assert kept < 1000, (default, kept)
    assert default > 10 * max(kept, 1), (default, kept)
