"""The MIKE loss (Eq. 1) with Section 4.1's per-teacher masking, the pixel-wise baseline loss, and the
segmentation loss of teachers and downstream decoders.

Eq. 1:  L = Σ_n Σ_l w_l^n (tanh φ_l^n(x) − tanh φ_l^n(x̄))²,  averaged over the batch.

Reduction within a layer (the paper leaves it open): the squared difference is averaged over the layer's
elements (C·H·W), so each layer contributes in proportion to its weight w_l^n rather than its size.
Masking: teacher n only sees the samples of its own training set, S_n. Its term is averaged over the
samples of S_n in the batch (a teacher with none in the batch contributes 0). With one teacher this is the
plain batch average. Samples are routed: each teacher runs only on its own samples, so an N-teacher step
costs about the teacher compute of a 1-teacher step; 'naive' routing (every teacher sees every sample and
the mask is applied afterwards) gives the same value and exists for benchmarks and tests; 'stacked' is
routed too, with the teachers executed as one vmapped ensemble (mike.models.stacked) instead of a loop.
tanh is computed as 2·σ(2x) − 1 (mike.fast_tanh): the same function, 3–4× faster on a CPU.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from mike.fast_tanh import tanh
from mike.models.segmenter import Segmenter
from mike.models.stacked import StackedTeachers
from mike.schedules import LossWeights

ROUTINGS = ("routed", "naive", "stacked")


def per_sample_layer_errors(
    teacher: Segmenter,
    x: torch.Tensor | None,
    x_bar: torch.Tensor,
    targets: list[torch.Tensor] | None = None,
) -> list[torch.Tensor]:
    """For each layer, the per-sample mean over elements of (tanh φ(x) − tanh φ(x̄))²: a list of B-vectors.
    targets: tanh φ(x) when already known (mike.training.target_cache; x is then not read), else computed
    here from x."""
    if targets is None:
        if x is None:
            raise ValueError("per_sample_layer_errors needs x when the targets are not given")
        with torch.no_grad():  # targets: activations on the real input, squashed, no graph needed
            targets = [tanh(t) for t in teacher.forward_features(x)]
    outputs = teacher.forward_features(x_bar)  # gradients flow through the frozen teacher into x̄
    return [_SquashedError.apply(o, t) for t, o in zip(targets, outputs, strict=True)]


class _SquashedError(torch.autograd.Function):
    """Each sample's mean over elements of (t − tanh o)², t a fixed target: the values of
    `(t − tanh(o)).pow(2)` summed per sample, in the map's own layout, with its gradient to o written out,
    −2/n · g · (t − tanh o) · (1 − tanh² o): 2 passes over the map backward instead of 4, and one graph
    node per layer instead of seven. Summed in the tensor's layout: flatten(1).mean(1) had copied
    channels-last maps to channels-first, and its gradient came back channels-first into the teacher's
    backward, whose every pass then mixed layouts."""

    @staticmethod
    def forward(ctx, outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        squashed = tanh(outputs)  # (no graph inside a Function's forward)
        difference = targets - squashed
        ctx.save_for_backward(difference, squashed)
        per_sample = difference[0].numel()
        return difference.pow(2).sum(dim=tuple(range(1, difference.dim()))) / per_sample

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        difference, squashed = ctx.saved_tensors
        scale = grad * (-2.0 / difference[0].numel())
        scale = scale.view(-1, *[1] * (difference.dim() - 1))
        return torch.ops.aten.tanh_backward(difference, squashed).mul_(scale), None


def mike_loss(
    teachers: Sequence[Segmenter] | StackedTeachers,
    x: torch.Tensor,
    x_bar: torch.Tensor,
    membership: torch.Tensor,
    weights: LossWeights,
    routing: str = "routed",
    targets: Sequence[list[torch.Tensor] | None] | None = None,
) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """Eq. 1 with masking. membership is a B×N bool matrix: sample i belongs to teacher n's training set.
    targets (routed only): per teacher, tanh φ(x) of its own samples in the batch, or None to compute them.

    Returns the loss and, for the record, each teacher's unweighted per-layer errors as a detached
    tensor of L values (nan where the teacher had no sample in the batch), left on the device: reading
    them is the caller's choice, so a training step never waits for it.
    """
    if routing not in ROUTINGS:
        raise ValueError(f"unknown routing {routing!r}; choose one of {', '.join(ROUTINGS)}")
    if targets is not None and routing != "routed":
        raise ValueError("known targets are for routed teachers only")
    loss = x_bar.new_zeros(())
    if weights.pixel > 0:
        loss = loss + weights.pixel * F.mse_loss(x_bar, x)
    membership = membership.cpu()  # routing is decided on the host: no device sync for the masks
    if routing == "stacked":
        return _stacked_loss(teachers, x, x_bar, membership, weights, loss)
    counts = membership.sum(0).tolist()
    layer_record: list[torch.Tensor] = []
    for n, teacher in enumerate(teachers):
        mask = membership[:, n]
        if counts[n] == 0:
            layer_record.append(x_bar.new_full((len(weights.teachers[n]),), float("nan")).detach())
            continue
        if routing == "routed":
            known = targets[n] if targets is not None else None
            everyone = counts[n] == mask.shape[0]  # (no gather, whose gradient is a channels-first map)
            own_x = None if known is not None else x if everyone else x[mask]  # known targets: x unread
            own_x_bar = x_bar if everyone else x_bar[mask]
            errors = [e.mean() for e in per_sample_layer_errors(teacher, own_x, own_x_bar, known)]
        else:
            m = mask.to(device=x.device, dtype=x.dtype)
            errors = [(e * m).sum() / counts[n] for e in per_sample_layer_errors(teacher, x, x_bar)]
        for w, e in zip(weights.teachers[n], errors, strict=True):
            if w != 0.0:  # zero-weight layers stay out of the graph (progressive schedule)
                loss = loss + w * e
        layer_record.append(torch.stack([e.detach() for e in errors]))
    return loss, layer_record


def _stacked_loss(
    teachers: StackedTeachers,
    x: torch.Tensor,
    x_bar: torch.Tensor,
    membership: torch.Tensor,
    weights: LossWeights,
    loss: torch.Tensor,
) -> tuple[torch.Tensor, list[torch.Tensor]]:
    errors, active = teachers.layer_errors(x, x_bar, membership)
    w = torch.tensor([weights.teachers[n] for n in active], dtype=errors.dtype, device=errors.device)
    record = [x_bar.new_full((len(teachers.layer_names),), float("nan")) for _ in range(teachers.count)]
    for a, n in enumerate(active):
        record[n] = errors[a].detach()
    return loss + (w * errors).sum(), record


def segmentation_loss(logits: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    """Teacher and downstream segmentation loss: per-channel binary cross-entropy plus soft Dice.

    The paper does not name its segmentation loss. Classes cover ~5–10% of the pixels, and BCE alone first
    learns to predict nothing (IoU 0). The soft Dice term (per class, over the whole batch, like the
    dataset-level IoU) removes that trap for every encoder alike: 1 − (2·Σpy + 1)/(Σp + Σy + 1).
    Computed in float32 at least (bf16 logits are promoted) by one autograd function with its gradient
    written out (_BceDice).
    """
    dtype = torch.promote_types(logits.dtype, torch.float32)
    return _BceDice.apply(logits.to(dtype), masks.to(dtype))


class _BceDice(torch.autograd.Function):
    """mean(softplus(x) − x·y) + mean over classes of the soft Dice loss, p = σ(x); the same function as
    F.binary_cross_entropy_with_logits plus Dice through autograd, equal up to float rounding, with fewer
    passes over the logits: 2.1 ms instead of 3.3 forward and backward at the `small` batch, 32×3×64×64,
    1 thread (measured alone, alternated), where the loss was a tenth of a downstream decoder's step."""

    @staticmethod
    def forward(ctx, logits: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
        p = torch.sigmoid(logits)
        intersection = (p * masks).sum(dim=(0, 2, 3))
        total = p.sum(dim=(0, 2, 3)) + masks.sum(dim=(0, 2, 3))
        dice = 1 - (2 * intersection + 1) / (total + 1)
        ctx.save_for_backward(p, masks, intersection, total)
        return (F.softplus(logits) - logits * masks).mean() + dice.mean()

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        p, y, intersection, total = ctx.saved_tensors
        classes = p.shape[1]
        # d(mean Dice)/dp = (a − b·y) per class; BCE's d/dx = (p − y) / elements; dp/dx = p(1 − p).
        a = ((2 * intersection + 1) / (total + 1).square() / classes).view(1, classes, 1, 1)
        b = (2 / (total + 1) / classes).view(1, classes, 1, 1)
        dx = torch.addcmul(p, p, p, value=-1).mul_(torch.addcmul(a, b, y, value=-1))
        dx.add_(p - y, alpha=1 / p.numel())
        return dx.mul_(grad), None


def pixel_loss(x: torch.Tensor, x_bar: torch.Tensor) -> torch.Tensor:
    """The baseline autoencoder's pixel-wise loss: mean squared error over all pixels and channels."""
    return F.mse_loss(x_bar, x)
