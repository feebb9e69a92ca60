"""The one training loop every stage uses: seeded batch order, Adam, learning-rate decay, checkpoints.

The batch of step k is a pure function of (seed, k), so a run resumed from a checkpoint at step k sees
exactly the batches an uninterrupted run would have seen.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import torch

StepCallback = Callable[[int, dict[str, float]], None]
# Computes one batch's loss and the metrics to record, from the step number and the batch's sample indices.
StepLoss = Callable[[int, torch.Tensor], tuple[torch.Tensor, dict[str, float]]]


@dataclass(frozen=True)
class TrainSpec:
    """Length and optimiser of one training stage."""

    steps: int  # optimiser steps (batches)
    batch_size: int
    lr: float = 1e-3  # Adam learning rate
    cosine: bool = True  # cosine decay of the learning rate to 10% over the steps
    warmup_steps: int = 0  # pixel-wise pre-training steps (transfer only, Section 3.3)
    checkpoint_every: int = 0  # save a resumable checkpoint every this many steps (0: never)


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


def make_optimizer(
    params, spec: TrainSpec
) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LRScheduler]:
    optimizer = torch.optim.Adam(params, lr=spec.lr)
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
) -> torch.nn.Module:
    """Train `model` (its trainable parameters) for spec.steps batches drawn from n samples."""
    model.train()
    optimizer, scheduler = make_optimizer([p for p in model.parameters() if p.requires_grad], spec)
    start = 0
    state = checkpointer.load() if checkpointer else None
    if state is not None:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        start = state["step"] + 1
    for step in range(start, spec.steps):
        loss, metrics = step_loss(step, batch_for_step(n, spec.batch_size, step, seed))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        scheduler.step()
        if on_step:
            on_step(step, {"loss": loss.item(), **metrics})
        last = step == spec.steps - 1
        if checkpointer and spec.checkpoint_every and (step + 1) % spec.checkpoint_every == 0 and not last:
            checkpointer.save(
                {
                    "step": step,
                    "model": model.state_dict(),
                    "optimizer": optimizer.state_dict(),
                    "scheduler": scheduler.state_dict(),
                }
            )
    return model


def to_float_images(images: torch.Tensor, device: torch.device) -> torch.Tensor:
    x = images.to(device, non_blocking=True).float().div_(255.0)
    return x.contiguous(memory_format=torch.channels_last)


def prepare(model: torch.nn.Module, device: torch.device) -> torch.nn.Module:
    """Move a model to the device in channels-last layout (about 30% faster convolutions on CPU)."""
    return model.to(device=device, memory_format=torch.channels_last)
