"""mike.fast_tanh against torch.tanh: values to float rounding, and in float64 values and gradients, in both
memory layouts, without gradients and under vmap."""

from __future__ import annotations

import pytest
import torch
from torch.testing import assert_close

from mike.fast_tanh import tanh


@pytest.mark.parametrize("layout", [torch.contiguous_format, torch.channels_last])
def test_tanh_equals_torchs_to_float_rounding(layout):
    x = torch.linspace(-30, 30, 200_001).view(1, 1, 1, -1).repeat(2, 3, 1, 1).contiguous(memory_format=layout)
    assert (tanh(x) - torch.tanh(x)).abs().max().item() < 3e-7  # float32: the sigmoid form's rounding
    x64 = x.double().requires_grad_()
    y = tanh(x64)
    assert_close(y, torch.tanh(x64.detach()), rtol=0, atol=1e-15)
    w = torch.rand_like(x64)
    (g,) = torch.autograd.grad((y * w).sum(), x64)
    assert_close(g, w * (1 - torch.tanh(x64.detach()) ** 2), rtol=1e-12, atol=1e-15)
    assert torch.autograd.gradcheck(tanh, (torch.randn(4, 3, dtype=torch.float64, requires_grad=True),))


def test_tanh_without_gradients_and_under_vmap():
    x = torch.randn(4, 6, dtype=torch.float64)
    with torch.no_grad():
        assert_close(tanh(x.requires_grad_()), torch.tanh(x))
    batched = torch.randn(3, 4, 5, dtype=torch.float64, requires_grad=True)
    out = torch.func.vmap(tanh)(batched)
    assert_close(out, torch.tanh(batched.detach()))
    (g,) = torch.autograd.grad(out.sum(), batched)
    assert_close(g, 1 - torch.tanh(batched.detach()) ** 2)
