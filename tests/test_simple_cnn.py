"""Table II's simple CNN: the Fig. 3 encoder followed by an MLP with one hidden layer of 256."""

import pytest
import torch
from torch import nn

from mike.featpred.simple_cnn import SimpleCNN
from mike.profiles import get_profile
from suites.loss_suites import losses


@pytest.mark.parametrize("size,outputs", [(64, 2), (96, 10)])
def test_shapes_and_layers(size, outputs):
    model = SimpleCNN(size, 64, outputs)
    assert model(torch.rand(3, 3, size, size)).shape == (3, outputs)
    linears = [m for m in model.head.modules() if isinstance(m, nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(64, 256), (256, outputs)]
    assert [c.out_channels for c in model.encoder.modules() if isinstance(c, nn.Conv2d)] == [32, 64, 128, 256]


def test_it_learns_a_position_from_pixels():
    torch.manual_seed(0)
    x = torch.rand(32, 3, 64, 64)
    y = x[:, 0, :8, :8].mean(dim=(1, 2)).unsqueeze(1).repeat(1, 2)
    model = SimpleCNN(64, 16, 2)
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-3)
    first = None
    for _ in range(20):
        loss = nn.functional.mse_loss(model(x), y)
        first = first if first is not None else loss.item()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    assert loss.item() < 0.5 * first


def test_the_losses_suite_plans_one_cnn_per_dataset_and_seed_and_figure9_only_with_svhn(tmp_path):
    from tests.helpers import fake_svhn

    profile = get_profile("smoke")
    plain = losses(profile, [0, 1])
    cnn = [p for p in plain if p.spec.stage == "simple_cnn"]
    assert [(p.spec.config["data"]["dataset"], p.spec.config["seed"]) for p in cnn] == [
        ("lunar_lander", 0),
        ("lunar_lander", 1),
    ]
    assert not [p for p in plain if p.spec.config.get("study")]
    with_svhn = losses(profile, [0], svhn_root=fake_svhn(tmp_path / "svhn"))
    study = [p.spec.config for p in with_svhn if p.spec.config.get("study") == "convergence"]
    assert len(study) == 6 and {c["data"]["dataset"] for c in study} == {"svhn"}
    assert {c["z"] for c in study} == {64} and {c["train"]["patience"] for c in study} == {15}
