"""Epoch-based training with early stopping and the best-validation checkpoint (feature-prediction paper).

The original code's protocol, for autoencoders and probes alike: the last `validation_fraction` of the data
(a sequential split) validates; training stops after `patience` epochs without a better validation loss, and
the model of the best epoch is restored. Each epoch's wall-clock and process CPU time, validation included,
is recorded (the paper's "training time per epoch"); checkpoint saving is excluded from it.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from mike.training.loop import Checkpointer, adam
from mike.training.specs import EpochSpec

BatchLoss = Callable[[torch.Tensor], torch.Tensor]  # sample indices -> mean loss of that batch
EpochCallback = Callable[[int, dict[str, float]], None]


@dataclass
class EpochHistory:
    train_loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    wall_seconds: list[float] = field(default_factory=list)
    cpu_seconds: list[float] = field(default_factory=list)
    best_epoch: int = -1

    @property
    def best_val_loss(self) -> float:
        return self.val_loss[self.best_epoch]


def split_indices(n: int, validation_fraction: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Sequential split: the first part trains, the last `validation_fraction` validates."""
    n_val = max(1, round(n * validation_fraction))
    if n - n_val < 1:
        raise ValueError(f"{n} samples cannot be split into training and validation")
    return torch.arange(n - n_val), torch.arange(n - n_val, n)


def _mean_loss(
    model: torch.nn.Module, batch_loss: BatchLoss, indices: torch.Tensor, batch_size: int
) -> float:
    model.eval()
    total = 0.0
    with torch.no_grad():
        for start in range(0, len(indices), batch_size):
            batch = indices[start : start + batch_size]
            total += batch_loss(batch).item() * len(batch)
    model.train()
    return total / len(indices)


def _kept(model: torch.nn.Module, kept: dict | None) -> dict:
    """A copy of the model's weights, written over the previous copy when there is one: a feature coder is
    ~80 MB, and a fresh copy per improving epoch costs its allocation every time."""
    if kept is None:
        return copy.deepcopy(model.state_dict())
    for name, value in model.state_dict().items():
        kept[name].copy_(value)
    return kept


def fit_epochs(
    model: torch.nn.Module,
    batch_loss: BatchLoss,
    n: int,
    spec: EpochSpec,
    seed: int,
    on_epoch: EpochCallback | None = None,
    checkpointer: Checkpointer | None = None,
) -> EpochHistory:
    """Train until spec.max_epochs or early stop; the model ends with its best-validation weights."""
    train_idx, val_idx = split_indices(n, spec.validation_fraction)
    optimizer = adam([p for p in model.parameters() if p.requires_grad], spec.lr)
    # the best epoch's weights; epoch 0 always sets them (a resumed run brings its own)
    history, best_state, start = EpochHistory(), None, 0
    state = checkpointer.load() if checkpointer else None
    if state is not None:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        best_state, history, start = state["best_model"], EpochHistory(**state["history"]), state["epoch"] + 1
    model.train()
    for epoch in range(start, spec.max_epochs):
        wall, cpu = time.perf_counter(), time.process_time()
        order = train_idx[
            torch.randperm(len(train_idx), generator=torch.Generator().manual_seed(seed + epoch))
        ]
        total = 0.0
        for s in range(0, len(order), spec.batch_size):
            batch = order[s : s + spec.batch_size]
            loss = batch_loss(batch)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += loss.item() * len(batch)
        val = _mean_loss(model, batch_loss, val_idx, spec.batch_size)
        history.train_loss.append(total / len(order))
        history.val_loss.append(val)
        history.wall_seconds.append(time.perf_counter() - wall)
        history.cpu_seconds.append(time.process_time() - cpu)
        if history.best_epoch < 0 or val < history.best_val_loss:
            history.best_epoch, best_state = epoch, _kept(model, best_state)
        if on_epoch:
            on_epoch(
                epoch,
                {
                    "loss": history.train_loss[-1],
                    "val_loss": val,
                    "epoch_seconds": history.wall_seconds[-1],
                    "epoch_cpu_seconds": history.cpu_seconds[-1],
                },
            )
        if epoch - history.best_epoch >= spec.patience:
            break
        if checkpointer and spec.checkpoint_every and (epoch + 1) % spec.checkpoint_every == 0:
            checkpointer.save(
                {
                    "step": epoch,
                    "epoch": epoch,
                    "model": model.state_dict(),
                    "optimizer": optimizer.state_dict(),
                    "best_model": best_state,
                    "history": vars(history),
                }
            )
    model.load_state_dict(best_state)
    return history
