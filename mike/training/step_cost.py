"""What one training step costs: wall time per step and the memory it holds (Section 5's scaling).

Time: `steps` optimiser steps after two untimed ones (first-call allocations, oneDNN kernel choice), the
device synchronised around them. Memory, measured the same way on every device: the bytes of the model's
parameters and gradients, Adam's two moments, the frozen modules' parameters, and the tensors autograd
saves for the backward pass of one step (counted through saved-tensor hooks, each storage once). Their sum
is what a step must hold at once; on CUDA the allocator's peak is recorded beside it.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

import torch

from mike.training.loop import StepLoss, adam, batch_for_step

WARMUP_STEPS = 2


def _bytes(tensors: Iterable[torch.Tensor]) -> int:
    return sum(t.numel() * t.element_size() for t in tensors)


def saved_for_backward_bytes(step_loss: StepLoss, n: int, batch_size: int, seed: int) -> int:
    """Bytes autograd keeps for the backward pass of one step (each storage counted once)."""
    storages: dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        storage = t.untyped_storage()
        storages[storage.data_ptr()] = storage.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        loss, _ = step_loss(0, batch_for_step(n, batch_size, 0, seed))
    loss.backward()
    return sum(storages.values())


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def measure_steps(
    model: torch.nn.Module,
    frozen: Iterable[torch.nn.Module],
    step_loss: StepLoss,
    n: int,
    batch_size: int,
    steps: int,
    seed: int,
) -> dict:
    """Seconds per training step of `model` (median and mean over `steps`) and the memory a step holds."""
    device = next(model.parameters()).device
    model.train()
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = adam(trainable, 1e-3)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    times = []
    for step in range(WARMUP_STEPS + steps):
        _sync(device)
        start = time.perf_counter()
        loss, _ = step_loss(step, batch_for_step(n, batch_size, step, seed))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        _sync(device)
        times.append(time.perf_counter() - start)
    timed = sorted(times[WARMUP_STEPS:])
    saved = saved_for_backward_bytes(step_loss, n, batch_size, seed)
    parameters = _bytes(trainable)
    frozen_bytes = sum(_bytes(m.parameters()) + _bytes(m.buffers()) for m in frozen)
    memory = {
        "trainable_bytes": parameters,
        "gradient_bytes": parameters,
        "adam_bytes": 2 * parameters,
        "frozen_bytes": frozen_bytes,
        "saved_for_backward_bytes": saved,
    }
    result = {
        "seconds_per_step": timed[len(timed) // 2],
        "mean_seconds_per_step": sum(timed) / len(timed),
        "steps_timed": steps,
        **memory,
        "step_memory_bytes": sum(memory.values()),
    }
    if device.type == "cuda":
        result["cuda_peak_bytes"] = torch.cuda.max_memory_allocated(device)
    return result
