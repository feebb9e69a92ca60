"""EWC: per-sample Fisher diagonal, the quadratic penalty, and its exact merge over tasks."""

import io

import pytest
import torch
from torch import nn
from torch.testing import assert_close

from mike.training.ewc import EwcPenalty, fisher_diagonal, parameters_of


class Vector(nn.Module):
    """One trainable vector θ, so that penalties can be checked on hand values."""

    def __init__(self, values):
        super().__init__()
        self.theta = nn.Parameter(torch.tensor(values, dtype=torch.float64))


def _linear_data():
    torch.manual_seed(0)
    model = nn.Linear(3, 2).double()
    x, y = torch.randn(5, 3, dtype=torch.float64), torch.randn(5, 2, dtype=torch.float64)
    return model, x, y


def test_fisher_is_the_mean_of_per_sample_squared_gradients():
    model, x, y = _linear_data()
    fisher = fisher_diagonal(model, lambda i: (model(x[i]) - y[i]).square().sum(), range(len(x)))

    # loss_i = Σ_k (W_k·x_i + b_k − y_ik)²: ∂/∂W_kj = 2 r_ik x_ij, ∂/∂b_k = 2 r_ik.
    with torch.no_grad():
        r = x @ model.weight.T + model.bias - y
    grad_w, grad_b = 2 * r[:, :, None] * x[:, None, :], 2 * r
    assert set(fisher) == {"weight", "bias"}
    assert_close(fisher["weight"], grad_w.square().mean(0))
    assert_close(fisher["bias"], grad_b.square().mean(0))
    # The square of the batch-mean gradient is another quantity: a batch-mean implementation fails here.
    assert not torch.allclose(fisher["weight"], grad_w.mean(0).square())
    assert fisher["weight"].requires_grad is False


class WithBatchNorm(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 1))
        self.unused = nn.Linear(2, 2)  # reaches no loss: its Fisher is zero, not an error

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


def test_fisher_uses_eval_mode_and_leaves_mode_and_grads_as_they_were():
    torch.manual_seed(1)
    model = WithBatchNorm()
    model.body[0].weight.requires_grad_(False)  # frozen: no Fisher for it
    model.train()
    model.body[2].eval()  # mixed modes must come back exactly as they were
    modes = [m.training for m in model.modules()]
    x = torch.randn(4, 3)
    model(x).sum().backward()  # grads already on the parameters, e.g. mid-step
    grads = {n: None if p.grad is None else p.grad.clone() for n, p in model.named_parameters()}
    running_mean = model.body[1].running_mean.clone()
    modes_seen = []

    def loss(i: int) -> torch.Tensor:
        modes_seen.append(any(m.training for m in model.modules()))
        return model(x[i : i + 1]).square().sum()  # one sample: BatchNorm in train mode would raise

    fisher = fisher_diagonal(model, loss, [0, 1, 2])

    assert modes_seen == [False, False, False]
    assert [m.training for m in model.modules()] == modes == [True, True, True, True, False, True]
    for n, p in model.named_parameters():
        assert (p.grad is None) == (grads[n] is None)
        if p.grad is not None:
            assert_close(p.grad, grads[n])
    assert_close(model.body[1].running_mean, running_mean)  # eval: running statistics did not drift
    assert "body.0.weight" not in fisher and "body.0.bias" in fisher
    assert_close(fisher["unused.weight"], torch.zeros(2, 2))
    assert fisher["body.2.weight"].abs().sum() > 0


def test_fisher_rejects_empty_samples_and_batched_losses():
    model, x, y = _linear_data()
    with pytest.raises(ValueError, match="at least one sample"):
        fisher_diagonal(model, lambda i: model(x[i]).sum(), [])
    with pytest.raises(ValueError, match="0-d"):
        fisher_diagonal(model, lambda i: (model(x) - y).square().sum(1), [0])
    assert model.training


def test_penalty_on_hand_values():
    model = Vector([2.0, 3.0])
    penalty = EwcPenalty(
        fisher={"theta": torch.tensor([1.0, 4.0], dtype=torch.float64)},
        anchor={"theta": torch.tensor([0.0, 1.0], dtype=torch.float64)},
    )
    value = penalty(model)
    assert value.dim() == 0
    assert_close(value, torch.tensor(0.5 * (1 * 4 + 4 * 4), dtype=torch.float64))
    value.backward()
    assert_close(model.theta.grad, torch.tensor([1.0 * 2, 4.0 * 2], dtype=torch.float64))  # F (θ − θ*)
    with pytest.raises(ValueError, match="does not have"):
        EwcPenalty(fisher={"nope": torch.ones(1)}, anchor={"nope": torch.ones(1)})(model)


def test_after_task_has_the_gradient_of_the_per_task_sum():
    g = torch.Generator().manual_seed(2)
    n = 6
    f1, f2 = torch.rand(n, generator=g, dtype=torch.float64), torch.rand(n, generator=g, dtype=torch.float64)
    f1[0], f2[0] = 0.0, 0.0  # no Fisher anywhere: anchor must stay finite, with no pull
    f1[1] = 0.0  # only the second task cares
    t1, t2 = (
        torch.randn(n, generator=g, dtype=torch.float64),
        torch.randn(n, generator=g, dtype=torch.float64),
    )
    task1 = EwcPenalty(fisher={"theta": f1}, anchor={"theta": t1})
    task2 = EwcPenalty(fisher={"theta": f2}, anchor={"theta": t2})
    merged = EwcPenalty.after_task(
        EwcPenalty.after_task(None, {"theta": f1}, {"theta": t1}), {"theta": f2}, {"theta": t2}
    )
    assert torch.isfinite(merged.anchor["theta"]).all()
    assert_close(merged.anchor["theta"][0], t2[0])
    assert_close(merged.fisher["theta"], f1 + f2)

    offsets = []
    for _ in range(3):
        model = Vector(torch.randn(n, generator=g, dtype=torch.float64).tolist())
        (grad_sum,) = torch.autograd.grad(task1(model) + task2(model), model.theta)
        (grad_merged,) = torch.autograd.grad(merged(model), model.theta)
        assert_close(grad_merged, grad_sum)
        offsets.append((task1(model) + task2(model) - merged(model)).item())
    assert offsets[0] > 0  # the per-task sum is the merged penalty plus a positive constant
    assert offsets == pytest.approx([offsets[0]] * 3)


def test_state_dict_round_trip_through_torch_save():
    model, x, y = _linear_data()
    fisher = fisher_diagonal(model, lambda i: (model(x[i]) - y[i]).square().sum(), range(len(x)))
    penalty = EwcPenalty.after_task(None, fisher, parameters_of(model))
    with torch.no_grad():
        model.weight.add_(0.5)
    buffer = io.BytesIO()
    torch.save(penalty.state_dict(), buffer)
    buffer.seek(0)
    loaded = EwcPenalty.from_state_dict(torch.load(buffer, weights_only=True))
    assert loaded(model) > 0
    assert_close(loaded(model), penalty(model))
    assert_close(loaded.to("cpu")(model), penalty(model))
