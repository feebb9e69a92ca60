"""Many frozen teachers of one topology as one ensemble (MIKE with N teachers, `routing='stacked'`).

The teachers' parameters are stacked (torch.func.stack_module_state) and one vmapped call runs every
teacher that has samples in the batch, each on its own samples only: routing stays exact. Teachers own
different numbers of samples, so each one's samples are padded to the largest count in the batch and the
padding is masked out of the errors. This trades a Python loop of N small passes (launch-bound on a GPU)
for one batched pass; on a CPU the loop is as fast or faster (bench/speed.py measures both).
"""

from __future__ import annotations

import copy

import torch
from torch import nn
from torch.func import functional_call, stack_module_state, vmap

from mike.fast_tanh import tanh
from mike.models.segmenter import Segmenter


class _Features(nn.Module):
    """A segmenter whose forward returns every layer's activation (functional_call calls forward)."""

    def __init__(self, segmenter: Segmenter):
        super().__init__()
        self.segmenter = segmenter

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        return self.segmenter.forward_features(x)


class StackedTeachers:
    def __init__(self, teachers: list[Segmenter]):
        if len({tuple(t.specs) for t in teachers}) != 1:
            raise ValueError("stacked teachers must share one topology")
        wrapped = [_Features(t.freeze()) for t in teachers]
        params, buffers = stack_module_state(wrapped)
        # Frozen (no parameter gradients), and in the standard layout: under vmap, CUDA's batch norm asks a
        # channels-last tensor whether it is contiguous in that layout, which vmap does not implement.
        self.params = {k: v.detach().contiguous() for k, v in params.items()}
        self.buffers = {k: v.contiguous() for k, v in buffers.items()}
        self.base = copy.deepcopy(wrapped[0]).to("meta").eval()
        self.layer_names = teachers[0].layer_names
        self.count = len(teachers)

    def to(self, device: torch.device) -> StackedTeachers:
        self.params = {k: v.to(device) for k, v in self.params.items()}
        self.buffers = {k: v.to(device) for k, v in self.buffers.items()}
        return self

    def _errors_of_one(self, params, buffers, x, x_bar):
        """One teacher on its (padded) samples: per layer, per sample, mean of (tanh φ(x) − tanh φ(x̄))²."""
        with torch.no_grad():
            targets = [tanh(t) for t in functional_call(self.base, (params, buffers), (x,))]
        outputs = functional_call(self.base, (params, buffers), (x_bar,))
        errors = [(t - tanh(o)).pow(2).flatten(1).mean(1) for t, o in zip(targets, outputs, strict=True)]
        return torch.stack(errors)

    def layer_errors(
        self, x: torch.Tensor, x_bar: torch.Tensor, membership: torch.Tensor
    ) -> tuple[torch.Tensor, list[int]]:
        """(errors A×L: each active teacher's per-layer error averaged over its own samples, the active
        teachers' indices). membership: B×N bool on the host."""
        counts = membership.sum(0)
        active = [n for n in range(self.count) if counts[n] > 0]
        width = int(counts.max())
        index = torch.zeros(len(active), width, dtype=torch.long)
        valid = torch.zeros(len(active), width, dtype=torch.bool)
        for a, n in enumerate(active):
            own = membership[:, n].nonzero().flatten()
            index[a, : len(own)], index[a, len(own) :] = own, own[0]  # padding repeats a real sample
            valid[a, : len(own)] = True
        chosen = torch.tensor(active)
        params = {k: v[chosen.to(v.device)] for k, v in self.params.items()}
        buffers = {k: v[chosen.to(v.device)] for k, v in self.buffers.items()}
        index, valid = index.to(x.device), valid.to(x.device)
        x, x_bar = x[index].contiguous(), x_bar[index].contiguous()  # A×width×C×H×W, standard layout
        errors = vmap(self._errors_of_one)(params, buffers, x, x_bar)  # A×L×width
        mask = valid[:, None, :].to(errors.dtype)
        return (errors * mask).sum(-1) / valid.sum(-1, keepdim=True).to(errors.dtype), active
