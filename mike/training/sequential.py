"""Sequential knowledge transfer (MIKE Section 5): the autoencoder learns from one teacher at a time, with
or without elastic weight consolidation (mike.training.ewc) against forgetting the earlier ones.

One step trains on the newest teacher's query data with Eq. 1 (all-layers uniform) plus λ times the EWC
penalty of the teachers before it; `consolidate` then adds the newest teacher's Fisher information to the
penalty the next step will carry. λ = 0 is naive sequential transfer.
"""

from __future__ import annotations

import torch

from mike.models.autoencoder import Autoencoder
from mike.models.segmenter import Segmenter
from mike.schedules import make_schedule
from mike.training.ewc import EwcPenalty, fisher_diagonal, parameters_of
from mike.training.loop import Checkpointer, StepCallback, TrainSpec, fit
from mike.training.transfer import QuerySet, mike_step_loss


def _step_loss(autoencoder: Autoencoder, teacher: Segmenter, query: QuerySet, steps: int, device, batch=None):
    schedule = make_schedule("uniform", [len(teacher.layer_names)], steps)
    return mike_step_loss(autoencoder, [teacher], query, schedule, "routed", device, target_batch=batch)


def train_step(
    autoencoder: Autoencoder,
    teacher: Segmenter,
    query: QuerySet,
    spec: TrainSpec,
    seed: int,
    penalty: EwcPenalty | None = None,
    ewc_lambda: float = 0.0,
    on_step: StepCallback | None = None,
    device: str | torch.device = "cpu",
    checkpointer: Checkpointer | None = None,
) -> Autoencoder:
    """Train on one teacher; with a penalty and λ > 0, the loss is Eq. 1 + λ·penalty (logged as
    'ewc_penalty', unweighted, beside the teacher's per-layer errors)."""
    step_loss = _step_loss(autoencoder, teacher, query, spec.steps, device, spec.batch_size)
    if penalty is None or ewc_lambda == 0.0:
        return fit(autoencoder, step_loss, len(query), spec, seed, on_step, checkpointer)
    penalty = penalty.to(device)

    def with_penalty(step, idx):
        loss, metrics = step_loss(step, idx)
        held = penalty(autoencoder)
        return loss + ewc_lambda * held, {**metrics, "ewc_penalty": held.detach()}

    return fit(autoencoder, with_penalty, len(query), spec, seed, on_step, checkpointer)


def consolidate(
    autoencoder: Autoencoder,
    teacher: Segmenter,
    query: QuerySet,
    previous: EwcPenalty | None,
    samples: int,
    seed: int,
    device: str | torch.device = "cpu",
) -> EwcPenalty:
    """The penalty after this teacher: its diagonal Fisher on `samples` query images drawn with `seed`
    (per-sample gradients of Eq. 1), added to the earlier teachers' (EwcPenalty.after_task)."""
    step_loss = _step_loss(autoencoder, teacher, query, 1, device)
    order = torch.randperm(len(query), generator=torch.Generator().manual_seed(seed))[:samples].tolist()
    fisher = fisher_diagonal(autoencoder, lambda i: step_loss(0, torch.tensor([i]))[0], order)
    return EwcPenalty.after_task(previous, fisher, parameters_of(autoencoder))
