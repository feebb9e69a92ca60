"""Teacher pretraining: a segmenter trained on one tri-class task (mike.losses.segmentation_loss)."""

from __future__ import annotations

import torch

from mike.data.tri_class import TriClassData
from mike.losses import segmentation_loss
from mike.metrics import IoUAccumulator
from mike.models.segmenter import Segmenter
from mike.training.loop import (
    StepCallback,
    TrainSpec,
    batch_indices,
    make_optimizer,
    prepare,
    to_float_images,
)


def train_teacher(
    model: Segmenter,
    data: TriClassData,
    spec: TrainSpec,
    seed: int,
    on_step: StepCallback | None = None,
    device: str | torch.device = "cpu",
    start_step: int = 0,
) -> Segmenter:
    """Train model in place. Classes may overlap in a crop, so each channel is its own binary task."""
    device = torch.device(device)
    prepare(model, device).train()
    generator = torch.Generator().manual_seed(seed)
    optimizer, scheduler = make_optimizer(model.parameters(), spec)
    for step, idx in enumerate(batch_indices(len(data), spec.batch_size, spec.steps, generator)):
        if step < start_step:  # resuming: replay the batch order without training
            scheduler.step()
            continue
        x = to_float_images(data.images[idx], device)
        y = data.masks[idx].to(device).float()
        loss = segmentation_loss(model(x), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        scheduler.step()
        if on_step:
            on_step(step, {"loss": loss.item()})
    return model


@torch.no_grad()
def evaluate_segmenter(
    model: torch.nn.Module,
    inputs: torch.Tensor,
    masks: torch.Tensor,
    batch_size: int = 256,
    device: str | torch.device = "cpu",
) -> float:
    """IoU (mike.metrics) of a segmenter on uint8 images, or of a decoder on float embeddings."""
    device = torch.device(device)
    prepare(model, device).eval()
    acc = IoUAccumulator(masks.shape[1])
    for start in range(0, inputs.shape[0], batch_size):
        batch = inputs[start : start + batch_size]
        batch = to_float_images(batch, device) if batch.dtype == torch.uint8 else batch.to(device)
        acc.update(model(batch), masks[start : start + batch_size].to(device))
    return acc.value()
