"""The one training loop every stage uses: seeded batch order, Adam, learning-rate decay, checkpoints.

The batch of step k is a pure function of (seed, k), so a run resumed from a checkpoint at step k sees
exactly the batches an uninterrupted run would have seen.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable
from typing import Protocol

import torch

from mike.training.specs import DEFAULT_EXECUTION, ExecutionSpec, TrainSpec
from mike.training.step_log import StepCallback, StepLog

# Computes one batch's loss and the metrics to record (floats or 0-d tensors), from the step number and the
# batch's sample indices.
StepLoss = Callable[[int, torch.Tensor], tuple[torch.Tensor, dict[str, "torch.Tensor | float"]]]
LOG_EVERY = 25  # steps between metric transfers to the host (and callbacks)


class Checkpointer(Protocol):
    """Where a run keeps its resumable state (the run store's GridFS, in the suites)."""

    def load(self) -> dict | None: ...

    def save(self, state: dict) -> None: ...


def batch_for_step(n: int, batch_size: int, step: int, seed: int) -> torch.Tensor:
    """Sample indices of batch `step`: epochs of a seeded permutation, the last partial batch dropped."""
    batch_size = min(batch_size, n)
    per_epoch = n // batch_size
    epoch, k = divmod(step, per_epoch)
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed * 1_000_003 + epoch))
    return order[k * batch_size : (k + 1) * batch_size]


def adam(params, lr: float) -> torch.optim.Adam:
    """Adam through torch's fused kernel: one pass over each parameter instead of about ten, the same update
    up to float rounding. On this CPU it is 6× faster for 60 small tensors and 7× for a feature coder's
    19 M parameters (bench/speed.py, section optimizer), where the unfused step outweighed the batch."""
    return torch.optim.Adam(params, lr=lr, fused=True)


def make_optimizer(
    params, spec: TrainSpec
) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LRScheduler]:
    optimizer = adam(params, spec.lr)
    total = max(spec.steps, 1)
    if spec.cosine:
        decay = lambda step: 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(step / total, 1.0)))  # noqa: E731
    else:
        decay = lambda step: 1.0  # noqa: E731
    return optimizer, torch.optim.lr_scheduler.LambdaLR(optimizer, decay)


def fit(
    model: torch.nn.Module,
    step_loss: StepLoss,
    n: int,
    spec: TrainSpec,
    seed: int,
    on_step: StepCallback | None = None,
    checkpointer: Checkpointer | None = None,
    execution: ExecutionSpec = DEFAULT_EXECUTION,
) -> torch.nn.Module:
    """Train `model` (its trainable parameters) for spec.steps batches drawn from n samples.

    on_step receives every step's metrics, in order, in bursts of LOG_EVERY steps (and before each
    checkpoint and at the end), so the hot loop never waits for the device.
    """
    model.train()
    optimizer, scheduler = make_optimizer([p for p in model.parameters() if p.requires_grad], spec)
    log = StepLog(on_step, LOG_EVERY)
    device_type = next(model.parameters()).device.type
    start = 0
    state = checkpointer.load() if checkpointer else None
    if state is not None:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        start = state["step"] + 1
    for step in range(start, spec.steps):
        with autocast(device_type, execution):
            loss, metrics = step_loss(step, batch_for_step(n, spec.batch_size, step, seed))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        scheduler.step()
        log.add(step, {"loss": loss, **metrics})
        last = step == spec.steps - 1
        if checkpointer and spec.checkpoint_every and (step + 1) % spec.checkpoint_every == 0 and not last:
            log.flush()  # the curve up to the checkpoint is stored before the state that follows it
            checkpointer.save(
                {
                    "step": step,
                    "model": model.state_dict(),
                    "optimizer": optimizer.state_dict(),
                    "scheduler": scheduler.state_dict(),
                }
            )
    log.flush()
    return model


def autocast(device_type: str, execution: ExecutionSpec):
    """bf16 autocast when asked for (it changes the numbers: off by default), else nothing."""
    if execution.precision == "bf16":
        return torch.autocast(device_type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def compiled(module: torch.nn.Module, execution: ExecutionSpec):
    """The module, through torch.compile when asked for (it is not by default)."""
    return torch.compile(module) if execution.compile else module


def to_float_images(images: torch.Tensor, device: torch.device) -> torch.Tensor:
    x = images.to(device, non_blocking=True).contiguous(memory_format=torch.channels_last)  # 1 byte a value
    return x.float().div_(255.0)


def resident_masks(masks: torch.Tensor, device: torch.device) -> torch.Tensor:
    """Segmentation masks on the device in the networks' channels-last layout, so that the loss's passes
    read logits and targets alike: with channels-first masks each of its elementwise passes was a mixed-
    layout one, 2–4× slower (the loss: 4.7 → 3.5 ms of a 33 ms downstream decoder step at `small`)."""
    return masks.to(device).contiguous(memory_format=torch.channels_last)


def prepare(model: torch.nn.Module, device: torch.device) -> torch.nn.Module:
    """Move a model to the device in channels-last layout (about 30% faster convolutions on CPU)."""
    return model.to(device=device, memory_format=torch.channels_last)
