"""Per-step metrics without a host synchronisation per step.

A training step hands its metrics over as tensors (still on the device); they are converted to floats
for the callback only every `every` steps, in one transfer. On a GPU, `.item()` per metric per step would
stall the queue of kernels each time; on a CPU it costs Python calls per value.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

StepCallback = Callable[[int, dict[str, float]], None]


class StepLog:
    def __init__(self, on_step: StepCallback | None, every: int = 25):
        self.on_step, self.every = on_step, max(every, 1)
        self._steps: list[tuple[int, dict[str, torch.Tensor | float]]] = []

    def add(self, step: int, metrics: dict[str, torch.Tensor | float]) -> None:
        if self.on_step is None:
            return
        self._steps.append((step, {k: v.detach() if torch.is_tensor(v) else v for k, v in metrics.items()}))
        if len(self._steps) >= self.every:
            self.flush()

    def flush(self) -> None:
        """Call on_step for every buffered step, in order (one host transfer for all their tensors)."""
        if not self._steps:
            return
        tensors = [v for _, m in self._steps for v in m.values() if torch.is_tensor(v)]
        values = iter(torch.stack([t.float().reshape(()) for t in tensors]).tolist() if tensors else [])
        for step, metrics in self._steps:
            self.on_step(step, {k: next(values) if torch.is_tensor(v) else v for k, v in metrics.items()})
        self._steps.clear()
