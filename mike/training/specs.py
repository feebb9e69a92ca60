"""How long and how a training stage runs, as plain data (no torch: config checks stay fast)."""

from __future__ import annotations

import math
from dataclasses import dataclass


def at_least(minimum: int, **counts: int) -> None:
    """Refuse a count below its minimum here, in the config, before it trains nothing or fails in torch."""
    for name, value in counts.items():
        if value < minimum:
            raise ValueError(f"{name} must be ≥ {minimum}, not {value}")


def positive(**values: float) -> None:
    """Refuse a rate or size that must be a positive finite number (a learning rate of 0 trains nothing)."""
    for name, value in values.items():
        if not (value > 0 and math.isfinite(value)):
            raise ValueError(f"{name} must be a positive number, not {value}")


@dataclass(frozen=True)
class TrainSpec:
    """Length and optimiser of one training stage."""

    steps: int  # optimiser steps (batches)
    batch_size: int
    lr: float = 1e-3  # Adam learning rate
    cosine: bool = True  # cosine decay of the learning rate to 10% over the steps
    warmup_steps: int = 0  # pixel-wise pre-training steps (transfer only, Section 3.3)
    checkpoint_every: int = 0  # save a resumable checkpoint every this many steps (0: never)

    def __post_init__(self):
        at_least(1, steps=self.steps, batch_size=self.batch_size)
        at_least(0, warmup_steps=self.warmup_steps, checkpoint_every=self.checkpoint_every)
        positive(lr=self.lr)


@dataclass(frozen=True)
class EpochSpec:
    max_epochs: int
    patience: int  # epochs without a better validation loss before stopping
    batch_size: int
    lr: float = 1e-3  # Adam, torch defaults otherwise (as the original)
    validation_fraction: float = 0.2
    checkpoint_every: int = 0  # epochs between resumable checkpoints (0: never)

    def __post_init__(self):
        at_least(1, max_epochs=self.max_epochs, patience=self.patience, batch_size=self.batch_size)
        at_least(0, checkpoint_every=self.checkpoint_every)
        positive(lr=self.lr)
        if not 0 < self.validation_fraction < 1:  # both splits must hold data
            raise ValueError(f"validation_fraction must lie between 0 and 1, not {self.validation_fraction}")


PRECISIONS = ("fp32", "bf16")


@dataclass(frozen=True)
class ExecutionSpec:
    """How steps execute. Both options change the numbers (bf16 rounding; compiled kernels fuse and reorder
    float operations), so both are off by default, recorded in the run config when on, and meant for GPUs."""

    precision: str = "fp32"  # 'fp32', or 'bf16' autocast
    compile: bool = False  # torch.compile the models' forward passes

    def __post_init__(self):
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, not {self.precision!r}")


DEFAULT_EXECUTION = ExecutionSpec()
