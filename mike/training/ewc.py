"""Elastic weight consolidation (Kirkpatrick et al. 2017, PNAS) for sequential knowledge transfer.

When an autoencoder receives knowledge from several teachers one after another, plain training on the
newest task overwrites what the earlier ones taught. EWC adds a quadratic penalty ½ Σ_i F_i (θ_i − θ*_i)²
that pulls each parameter back towards its value after the earlier tasks, weighted by the diagonal of the
empirical Fisher information F: parameters the earlier tasks were sensitive to are held in place, the rest
stay free. The caller multiplies the penalty by λ and adds it to the new task's loss.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch


def parameters_of(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """Detached clones of the model's trainable parameters, by `named_parameters()` name."""
    return {name: p.detach().clone() for name, p in model.named_parameters() if p.requires_grad}


def fisher_diagonal(
    model: torch.nn.Module, sample_loss: Callable[[int], torch.Tensor], samples: Sequence[int]
) -> dict[str, torch.Tensor]:
    """Diagonal empirical Fisher of the trainable parameters: mean over `samples` of (∂ sample_loss(i)/∂θ)².

    `sample_loss(i)` must be a 0-d loss of the single sample i: EWC squares per-sample gradients, and the
    square of a batch-mean gradient is a different (much smaller) quantity.
    """
    samples = list(samples)
    if not samples:
        raise ValueError("fisher_diagonal needs at least one sample: the Fisher is a mean over samples")
    named = [(name, p) for name, p in model.named_parameters() if p.requires_grad]
    params = [p for _, p in named]
    fisher = [torch.zeros_like(p).detach() for p in params]
    # Eval mode: BatchNorm cannot normalise one sample by its own statistics, and running statistics must
    # not drift while we only measure. Restore each module's own flag, since modes may be mixed.
    modes = [(module, module.training) for module in model.modules()]
    model.eval()
    try:
        with torch.enable_grad():
            for i in samples:
                loss = sample_loss(i)
                if loss.dim() != 0:
                    raise ValueError(f"sample_loss({i}) must be a 0-d tensor, got shape {tuple(loss.shape)}")
                if not loss.requires_grad:
                    continue  # no trainable parameter reaches this loss: its gradient is zero
                # autograd.grad, not backward: gradients already accumulated in .grad stay untouched.
                grads = torch.autograd.grad(loss, params, allow_unused=True)
                for acc, g in zip(fisher, grads, strict=True):
                    if g is not None:  # None: the parameter does not reach the loss, a zero gradient
                        acc.add_(g.detach().square())
    finally:
        for module, training in modes:
            module.training = training
    return {name: acc / len(samples) for (name, _), acc in zip(named, fisher, strict=True)}


@dataclass(eq=False)
class EwcPenalty:
    """½ Σ_i F_i (θ_i − θ*_i)² over the parameters named in `fisher`; λ is left to the caller.

    After several tasks `fisher` holds the summed Fisher and `anchor` the Fisher-weighted mean of the
    per-task parameters (see `after_task`). Both must be on the model's device (see `to`).
    """

    fisher: dict[str, torch.Tensor]
    anchor: dict[str, torch.Tensor]

    def __call__(self, model: torch.nn.Module) -> torch.Tensor:
        params = dict(model.named_parameters())
        missing = sorted(set(self.fisher) - set(params))
        if missing:
            raise ValueError(f"EWC penalty for parameters the model does not have: {missing}")
        terms = [(self.fisher[n] * (params[n] - self.anchor[n]).square()).sum() for n in self.fisher]
        if not terms:
            return next(iter(params.values())).new_zeros(()) if params else torch.zeros(())
        return 0.5 * torch.stack(terms).sum()

    @classmethod
    def after_task(
        cls, previous: EwcPenalty | None, fisher: dict[str, torch.Tensor], params: dict[str, torch.Tensor]
    ) -> EwcPenalty:
        """The penalty after one more task, whose Fisher is `fisher` and final parameters `params`.

        Kirkpatrick's EWC keeps one penalty per past task. Their sum Σ_j ½ F_j (θ − θ_j)² equals
        ½ F (θ − θ̄)² + const with F = Σ_j F_j and θ̄ = Σ_j F_j θ_j / F (elementwise), so one summed
        penalty has exactly the same gradient, at constant memory in the number of tasks.
        """
        fisher = {n: f.detach().clone() for n, f in fisher.items()}
        params = {n: p.detach().clone() for n, p in params.items()}
        if previous is None:
            return cls(fisher=fisher, anchor={n: params[n] for n in fisher})
        total_f: dict[str, torch.Tensor] = {}
        anchor: dict[str, torch.Tensor] = {}
        for n in previous.fisher.keys() | fisher.keys():
            if n not in fisher:  # not measured in this task: the earlier pull stays as it was
                total_f[n], anchor[n] = previous.fisher[n].clone(), previous.anchor[n].clone()
                continue
            if n not in previous.fisher:
                total_f[n], anchor[n] = fisher[n], params[n]
                continue
            f = previous.fisher[n] + fisher[n]
            weighted = previous.fisher[n] * previous.anchor[n] + fisher[n] * params[n]
            positive = f > 0
            # Where F is 0 there is no pull at all; the newest params keep the anchor finite.
            safe_f = torch.where(positive, f, torch.ones_like(f))
            anchor[n] = torch.where(positive, weighted / safe_f, params[n])
            total_f[n] = f
        return cls(fisher=total_f, anchor=anchor)

    def state_dict(self) -> dict[str, dict[str, torch.Tensor]]:
        """Plain tensors only, so that torch.load(weights_only=True) reads it back."""
        return {"fisher": dict(self.fisher), "anchor": dict(self.anchor)}

    @classmethod
    def from_state_dict(cls, state: dict[str, dict[str, torch.Tensor]]) -> EwcPenalty:
        fisher, anchor = dict(state["fisher"]), dict(state["anchor"])
        if fisher.keys() != anchor.keys():
            odd = sorted(fisher.keys() ^ anchor.keys())
            raise ValueError(f"EWC state: fisher and anchor disagree on parameters {odd}")
        return cls(fisher=fisher, anchor=anchor)

    def to(self, device: torch.device | str) -> EwcPenalty:
        return EwcPenalty(
            fisher={n: f.to(device) for n, f in self.fisher.items()},
            anchor={n: a.to(device) for n, a in self.anchor.items()},
        )
