"""Segmentation metric: intersection over union, as MIKE Section 4.2 reports it (normalised by the teacher's).

Definition used throughout: predictions are thresholded per channel (logit > 0, i.e. probability > 0.5);
for each class channel c, IoU_c = Σ|P_c ∧ G_c| / Σ|P_c ∨ G_c| with the sums over every pixel of every image
of the split (dataset-level, not averaged per image); the reported IoU is the mean of IoU_c over the
classes whose union is non-empty (1.0 if no class has any pixel predicted or labelled).
"""

from __future__ import annotations

import torch


class IoUAccumulator:
    """Accumulates per-class intersections and unions over batches of (logits, masks), both B×C×H×W."""

    def __init__(self, num_classes: int = 3):
        self.intersection = torch.zeros(num_classes, dtype=torch.float64)
        self.union = torch.zeros(num_classes, dtype=torch.float64)

    def update(self, logits: torch.Tensor, masks: torch.Tensor) -> None:
        predicted = logits > 0
        # the masks in the logits' layout (channels-last from our networks): a mixed-layout & and | took
        # 1.4× as long
        truth = torch.empty_like(predicted).copy_(masks)
        self.intersection += (predicted & truth).sum(dim=(0, 2, 3)).double().cpu()
        self.union += (predicted | truth).sum(dim=(0, 2, 3)).double().cpu()

    def per_class(self) -> torch.Tensor:
        return torch.where(self.union > 0, self.intersection / self.union.clamp(min=1), torch.nan)

    def value(self) -> float:
        per_class = self.per_class()
        present = ~torch.isnan(per_class)
        return float(per_class[present].mean()) if present.any() else 1.0


def iou(logits: torch.Tensor, masks: torch.Tensor) -> float:
    acc = IoUAccumulator(masks.shape[1])
    acc.update(logits, masks)
    return acc.value()


def normalised_iou(downstream_iou: float, teacher_iou: float) -> float:
    """Downstream IoU divided by the teacher's IoU on the same test split (Section 4.2)."""
    return downstream_iou / teacher_iou
