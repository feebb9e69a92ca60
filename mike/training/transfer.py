"""MIKE knowledge transfer (Figure 1) and the pixel-wise baseline, on the same query set."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from mike.data.tri_class import TriClassData
from mike.losses import mike_loss, pixel_loss
from mike.models.autoencoder import Autoencoder
from mike.models.folding import folded_for_inference
from mike.models.segmenter import Segmenter
from mike.models.stacked import StackedTeachers
from mike.schedules import Schedule
from mike.training.loop import (
    Checkpointer,
    StepCallback,
    StepLoss,
    TrainSpec,
    compiled,
    fit,
    prepare,
    to_float_images,
)
from mike.training.specs import DEFAULT_EXECUTION, ExecutionSpec
from mike.training.target_cache import TargetCache


@dataclass
class QuerySet:
    """The union of the teachers' training sets; membership[i, n] marks sample i as teacher n's own data."""

    images: torch.Tensor  # uint8 N×3×64×64
    membership: torch.Tensor  # bool N×T

    @classmethod
    def from_tasks(cls, datasets: Sequence[TriClassData], owners: Sequence[int] | None = None) -> QuerySet:
        """The datasets' images, one after another. owners[n]: the dataset teacher n was trained on
        (default: teacher n owns dataset n); replicas of a task (Section 5's scaling beyond 11 teachers)
        share its images instead of repeating them, so each sample goes through every teacher of its task."""
        owners = list(range(len(datasets))) if owners is None else list(owners)
        images = torch.cat([d.images for d in datasets])
        membership = torch.zeros(images.shape[0], len(owners), dtype=torch.bool)
        starts = [0]
        for d in datasets:
            starts.append(starts[-1] + len(d))
        for n, k in enumerate(owners):
            membership[starts[k] : starts[k + 1], n] = True
        return cls(images, membership)

    def __len__(self) -> int:
        return self.images.shape[0]


def mike_step_loss(
    autoencoder: Autoencoder,
    teachers: Sequence[Segmenter],
    query: QuerySet,
    schedule: Schedule,
    routing: str = "routed",
    device: str | torch.device = "cpu",
    execution: ExecutionSpec = DEFAULT_EXECUTION,
    target_batch: int | None = None,
) -> StepLoss:
    """The loss of one transfer step (Eq. 1, masked per teacher) from the step and the batch's indices,
    with the pixel MSE and every teacher's per-layer error ('t{n}/{layer}') as its metrics. Teachers are
    frozen, everything is moved to the device, and the query's images stay resident there.

    target_batch: the training batch size, to compute the routed teachers' targets on the query images once,
    at that size (mike.training.target_cache); None computes them every step (single-step measurements)."""
    device = torch.device(device)
    for t in teachers:
        prepare(t, device).freeze()
    # their BatchNorms folded into the convolutions: the same teachers, fewer passes per step
    teachers = [folded_for_inference(t) for t in teachers]
    names = [t.layer_names for t in teachers]
    if routing == "stacked":  # one vmapped ensemble instead of a loop over the teachers
        teachers = StackedTeachers(list(teachers)).to(device)
    prepare(autoencoder, device)
    reconstruct = compiled(autoencoder, execution)
    images = query.images.to(device)  # resident on the device for the whole run
    cache = None
    if target_batch and routing == "routed":
        as_input = lambda batch: to_float_images(batch, device)  # noqa: E731
        cache = TargetCache.build(teachers, images, query.membership, target_batch, as_input)

    def step_loss(step, idx):
        x = to_float_images(images[idx], device)
        x_bar = reconstruct(x)
        weights = schedule(step)
        membership = query.membership[idx]
        known = cache.for_batch(idx, membership) if cache else None
        loss, per_layer = mike_loss(teachers, x, x_bar, membership, weights, routing, known)
        metrics = {"pixel_mse": pixel_loss(x, x_bar.detach())}
        for n, errors in enumerate(per_layer):
            metrics.update({f"t{n}/{layer}": errors[i] for i, layer in enumerate(names[n])})
        return loss, metrics

    return step_loss


def train_mike(
    autoencoder: Autoencoder,
    teachers: Sequence[Segmenter],
    query: QuerySet,
    spec: TrainSpec,
    schedule: Schedule,
    seed: int,
    routing: str = "routed",
    on_step: StepCallback | None = None,
    device: str | torch.device = "cpu",
    checkpointer: Checkpointer | None = None,
    execution: ExecutionSpec = DEFAULT_EXECUTION,
) -> Autoencoder:
    """Train the autoencoder so the frozen teachers react to x̄ as to x (Eq. 1, masked per teacher).

    on_step receives the loss, the pixel MSE, and every teacher's per-layer error ('t{n}/{layer}'), for
    every step: the curves of Figures 5 and 6.
    """
    step_loss = mike_step_loss(
        autoencoder, teachers, query, schedule, routing, device, execution, target_batch=spec.batch_size
    )
    return fit(autoencoder, step_loss, len(query), spec, seed, on_step, checkpointer, execution)


def train_pixelwise(
    autoencoder: Autoencoder,
    images: torch.Tensor,
    spec: TrainSpec,
    seed: int,
    on_step: StepCallback | None = None,
    device: str | torch.device = "cpu",
    checkpointer: Checkpointer | None = None,
    execution: ExecutionSpec = DEFAULT_EXECUTION,
) -> Autoencoder:
    """The baseline: the same autoencoder trained with pixel MSE on the same query images."""
    device = torch.device(device)
    prepare(autoencoder, device)
    reconstruct = compiled(autoencoder, execution)
    images = images.to(device)

    def step_loss(step, idx):
        x = to_float_images(images[idx], device)
        return pixel_loss(x, reconstruct(x)), {}

    return fit(autoencoder, step_loss, images.shape[0], spec, seed, on_step, checkpointer, execution)
