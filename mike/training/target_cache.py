"""The frozen teachers' squashed activations on the query images, computed once per transfer run.

Eq. 1's targets, tanh φ_l^n(x), depend only on a frozen teacher and a query image, yet a transfer step
recomputed them for every batch: about an eighth of a step at `small` widths, for a run that visits each
image 3–4 times (200–300 steps) or 60 times (Figures 5–6's 3,600). Here each teacher's targets on its own
images are computed once, in batches of the training batch's size, and gathered per step.

The same numbers: a convolution's result for one image does not depend on the other images of its batch,
but can depend on the batch's size (kernel choice). The targets are computed at the training batch's size
(the last batch is the last full batch's worth of images), which is the size every one-teacher step uses,
so one-teacher runs are bit-identical; with several teachers a step gives each one a sub-batch of varying
size, and their targets may differ in the last bit.

Memory: a teacher's targets on its own images (`small`: 0.27 MB an image, ~490 MB for one task's 1,800) are
kept only while all cached teachers together stay within `budget_bytes`; the others are computed per step.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from mike.fast_tanh import tanh
from mike.models.folding import layout_of
from mike.models.segmenter import Segmenter

BUDGET_BYTES = 2 * 1024**3  # one run's cached targets; a 2-worker suite holds two runs at once


class TargetCache:
    """Per teacher: its squashed activations on each image it owns (membership), or None when not cached."""

    def __init__(self, layers: list[list[torch.Tensor] | None], rows: list[torch.Tensor | None]):
        self.layers = layers  # layers[n][l]: N_n×C×H×W, row r = teacher n's r-th own image
        self.rows = rows  # rows[n][i]: the row of query image i in teacher n's targets (−1: not its image)

    @classmethod
    def build(
        cls,
        teachers: Sequence[Segmenter],
        images: torch.Tensor,
        membership: torch.Tensor,
        batch_size: int,
        to_input,
        budget_bytes: int = BUDGET_BYTES,
    ) -> TargetCache:
        """images: the query's uint8 images (on the device); to_input turns a uint8 batch into the float
        batch a step feeds the teachers; membership: the query's bool N×T matrix."""
        layers: list[list[torch.Tensor] | None] = []
        rows: list[torch.Tensor | None] = []
        used = 0
        for n, teacher in enumerate(teachers):
            own = membership[:, n].nonzero().squeeze(1)
            size = len(own) * _bytes_per_image(teacher, to_input(images[own[:1]])) if len(own) else 0
            if len(own) == 0 or used + size > budget_bytes:
                layers.append(None)
                rows.append(None)
                continue
            used += size
            layers.append(_targets(teacher, images, own.to(images.device), batch_size, to_input))
            row = torch.full((membership.shape[0],), -1, dtype=torch.long)
            row[own] = torch.arange(len(own))
            rows.append(row)
        return cls(layers, rows)

    def for_batch(self, idx: torch.Tensor, membership: torch.Tensor) -> list[list[torch.Tensor] | None]:
        """Per teacher, the targets of the batch's images it owns (in batch order), or None (not cached)."""
        out: list[list[torch.Tensor] | None] = []
        for n, layers in enumerate(self.layers):
            if layers is None:
                out.append(None)
                continue
            where = self.rows[n][idx[membership[:, n]]].to(layers[0].device)
            out.append([t[where] for t in layers])  # (index_select would return them channels-first)
        return out

    def cached_bytes(self) -> int:
        return sum(t.nbytes for layers in self.layers if layers is not None for t in layers)


@torch.no_grad()
def _bytes_per_image(teacher: Segmenter, x: torch.Tensor) -> int:
    return sum(f.nbytes for f in teacher.forward_features(x))


@torch.no_grad()
def _targets(teacher, images, own: torch.Tensor, batch_size: int, to_input) -> list[torch.Tensor]:
    count = len(own)
    batch_size = max(1, min(batch_size, count))
    out: list[torch.Tensor] = []
    for start in range(0, count, batch_size):
        first = min(start, count - batch_size)  # the last batch: full size, ending at the last image
        features = teacher.forward_features(to_input(images[own[first : first + batch_size]]))
        if not out:
            out = [
                torch.empty((count, *f.shape[1:]), dtype=f.dtype, device=f.device, memory_format=layout_of(f))
                for f in features
            ]
        for o, f in zip(out, features, strict=True):
            o[start : first + batch_size] = tanh(f)[start - first :]
    return out
