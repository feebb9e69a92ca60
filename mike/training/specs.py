"""How long and how a training stage runs, as plain data (no torch: config checks stay fast)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TrainSpec:
    """Length and optimiser of one training stage."""

    steps: int  # optimiser steps (batches)
    batch_size: int
    lr: float = 1e-3  # Adam learning rate
    cosine: bool = True  # cosine decay of the learning rate to 10% over the steps
    warmup_steps: int = 0  # pixel-wise pre-training steps (transfer only, Section 3.3)
    checkpoint_every: int = 0  # save a resumable checkpoint every this many steps (0: never)


@dataclass(frozen=True)
class EpochSpec:
    max_epochs: int
    patience: int  # epochs without a better validation loss before stopping
    batch_size: int
    lr: float = 1e-3  # Adam, torch defaults otherwise (as the original)
    validation_fraction: float = 0.2
    checkpoint_every: int = 0  # epochs between resumable checkpoints (0: never)


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
