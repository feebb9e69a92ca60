"""Teacher pretraining: a segmenter trained on one tri-class task (mike.losses.segmentation_loss)."""

from __future__ import annotations

import torch

from mike.data.tri_class import TriClassData
from mike.losses import segmentation_loss
from mike.metrics import IoUAccumulator
from mike.models.folding import folded_for_inference
from mike.models.segmenter import Segmenter
from mike.training.loop import (
    Checkpointer,
    StepCallback,
    TrainSpec,
    compiled,
    fit,
    prepare,
    resident_masks,
    to_float_images,
)
from mike.training.specs import DEFAULT_EXECUTION, ExecutionSpec


def train_teacher(
    model: Segmenter,
    data: TriClassData,
    spec: TrainSpec,
    seed: int,
    on_step: StepCallback | None = None,
    device: str | torch.device = "cpu",
    checkpointer: Checkpointer | None = None,
    execution: ExecutionSpec = DEFAULT_EXECUTION,
) -> Segmenter:
    """Train model in place. Classes may overlap in a crop, so each channel is its own binary task."""
    device = torch.device(device)
    prepare(model, device)
    segment = compiled(model, execution)
    images, masks = data.images.to(device), resident_masks(data.masks, device)  # resident on the device

    def step_loss(step, idx):
        x = to_float_images(images[idx], device)
        return segmentation_loss(segment(x), masks[idx].float()), {}

    return fit(model, step_loss, len(data), spec, seed, on_step, checkpointer, execution)


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
    inference = folded_for_inference(prepare(model, device).eval())  # BatchNorm folded: fewer passes
    acc = IoUAccumulator(masks.shape[1])
    for start in range(0, inputs.shape[0], batch_size):
        batch = inputs[start : start + batch_size]
        batch = to_float_images(batch, device) if batch.dtype == torch.uint8 else batch.to(device)
        acc.update(inference(batch), masks[start : start + batch_size].to(device))
    return acc.value()
