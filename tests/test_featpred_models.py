"""Feature-prediction paper: coder shapes (Figures 3–4), the loss network, each procedure's loss by hand."""

from pathlib import Path

import pytest
import torch
from torch import nn

from mike.featpred.coders import FeatureDecoder, FeatureEncoder, ImageDecoder, ImageEncoder
from mike.featpred.loss_network import LossNetwork, LossNetworkError, alexnet_trunk, load_imagenet
from mike.featpred.procedures import PROCEDURES, ProcedureAutoencoder, kl_divergence

# AlexNet features[:5] on s×s: conv1 11/4 p2, max-pool 3/2, conv2 5 p2 -> 192 channels
FEATURES = {32: 192 * 3 * 3, 64: 192 * 7 * 7, 96: 192 * 11 * 11}


def test_loss_network_features_at_32_64_96():
    net = LossNetwork(alexnet_trunk(), "test")
    for size, features in FEATURES.items():
        y = net(torch.rand(2, 3, size, size))
        assert y.shape == (2, features)
        assert (y >= 0.5).all() and (y < 1).all()  # sigmoid of ReLU output, no normalisation
    assert not any(p.requires_grad for p in net.parameters())
    net.train()
    assert not net.training  # frozen: stays in eval mode


@pytest.mark.parametrize("size,flat", [(64, 1024), (96, 4096)])
def test_image_coders_shapes(size, flat):
    enc = ImageEncoder(size, 128)
    assert enc.heads.mu.in_features == flat  # 256·2·2 at 64, 256·4·4 at 96 (Figure 3)
    mu, logvar = enc(torch.rand(3, 3, size, size))
    assert mu.shape == (3, 128) and logvar is None
    assert ImageEncoder(size, 128, variational=True)(torch.rand(2, 3, size, size))[1].shape == (2, 128)
    out = ImageDecoder(size, 128)(torch.randn(3, 128))
    assert out.shape == (3, 3, size, size) and out.min() >= 0 and out.max() <= 1
    convs = [m for m in enc.modules() if isinstance(m, nn.Conv2d)]
    assert [c.out_channels for c in convs] == [32, 64, 128, 256]
    assert all(c.kernel_size == (4, 4) and c.stride == (2, 2) for c in convs)


def test_image_coders_refuse_32_pixels_and_say_why():
    with pytest.raises(ValueError, match="wrap-padded"):
        ImageEncoder(32, 64)
    with pytest.raises(ValueError, match="64\\+16n"):
        ImageDecoder(32, 64)


@pytest.mark.parametrize("size", [32, 64, 96])
def test_feature_coders_shapes(size):
    features = FEATURES[size]
    enc, dec = FeatureEncoder(features, 64), FeatureDecoder(64, features)
    assert enc.body[1].out_features == min(features // 2, 2048)  # one hidden layer, 2048 in practice
    mu, _ = enc(torch.rand(4, features))
    assert mu.shape == (4, 64)
    assert dec(mu).shape == (4, features)


class Const(nn.Module):
    """Outputs a constant of a given shape per sample and remembers its input (to check routing)."""

    def __init__(self, value, shape, pair=False, logvar=None):
        super().__init__()
        self.value, self.shape, self.pair, self.logvar = value, shape, pair, logvar
        self.seen = None
        self.w = nn.Parameter(torch.zeros(()))

    def forward(self, inp):
        self.seen = inp
        out = torch.full((inp.shape[0], *self.shape), self.value) + self.w
        if self.pair:
            lv = None if self.logvar is None else torch.full_like(out, self.logvar)
            return out, lv
        return out


def double(x):  # a stand-in loss network: p(x) = 2x, flattened
    return 2 * x.flatten(1)


def _model(name, decoded, code=0.0, logvar=None, gamma=0.0):
    m = ProcedureAutoencoder(name, 64, 4, 3 * 64 * 64, gamma=gamma)
    m.encoder = Const(code, (4,), pair=True, logvar=logvar)
    shape = (3, 64, 64) if m.procedure.decoder == "I" else (3 * 64 * 64,)
    m.decoder = Const(decoded, shape)
    return m.eval()


# x = 0.25 everywhere, so p(x) = 0.5; the decoder outputs a constant d.
HAND = {
    "I-I-PW": (0.5, (0.5 - 0.25) ** 2),  # image vs image
    "F-I-PW": (0.5, (0.5 - 0.25) ** 2),
    "I-I-PS": (0.5, (2 * 0.5 - 0.5) ** 2),  # p(x̂) = 1.0 vs p(x) = 0.5
    "F-I-PS": (0.5, (2 * 0.5 - 0.5) ** 2),
    "I-F-FP": (0.7, (0.7 - 0.5) ** 2),  # predicted features vs p(x)
    "F-F-FP": (0.7, (0.7 - 0.5) ** 2),
}


@pytest.mark.parametrize("name", list(PROCEDURES))
def test_procedure_loss_by_hand(name):
    decoded, expected = HAND[name]
    m = _model(name, decoded)
    x = torch.full((2, 3, 64, 64), 0.25)
    loss, parts = m.loss(x, double)
    assert loss.item() == pytest.approx(expected)
    seen = m.encoder.seen
    if name.startswith("F"):  # the encoder gets the loss network's features of x
        assert seen.shape == (2, 3 * 64 * 64) and torch.allclose(seen, torch.full_like(seen, 0.5))
    else:
        assert seen.shape == (2, 3, 64, 64)


def test_kl_term_by_hand():
    mu, logvar = torch.ones(2, 4), torch.zeros(2, 4)
    assert kl_divergence(mu, logvar).item() == pytest.approx(1.0)  # -mean(1 + 0 - 1 - 1)
    m = _model("I-I-PW", 0.5, code=1.0, logvar=0.0, gamma=0.5)
    loss, parts = m.loss(torch.full((2, 3, 64, 64), 0.25), double)
    assert parts["kld"] == pytest.approx(1.0)
    assert loss.item() == pytest.approx((0.5 - 0.25) ** 2 + 0.5 * 1.0)


def test_imagenet_weights_load_into_the_trunk(tmp_path):
    from torchvision.models import alexnet

    full = alexnet()
    path = tmp_path / "alexnet.pth"
    torch.save(full.state_dict(), path)
    net = load_imagenet(path)
    assert net.source == "imagenet"
    assert torch.equal(net.trunk[3].weight, full.features[3].weight)
    (tmp_path / "bad.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(LossNetworkError, match="bad.pth"):
        load_imagenet(tmp_path / "bad.pth")


def test_the_suite_uses_imagenet_weights_when_given_else_the_substitute(tmp_path, monkeypatch):
    from torchvision.models import alexnet

    from mike.profiles import get_profile
    from suites.loss_suites import loss_network_run

    monkeypatch.setenv("TORCH_HOME", str(tmp_path))  # an empty torch cache
    profile = get_profile("smoke")
    substitute = loss_network_run(profile, None).spec.config
    assert substitute["source"] == "substitute" and substitute["substitute"]["images_per_class"] == 2
    path = tmp_path / "hub" / "checkpoints" / "alexnet-owt-7be5be79.pth"
    path.parent.mkdir(parents=True)
    torch.save(alexnet().state_dict(), path)
    cached = loss_network_run(profile, None).spec.config  # found in torch's cache
    assert cached["source"] == "imagenet" and cached["path"] == str(path) and len(cached["digest"]) == 16
    with pytest.raises(LossNetworkError, match="not found"):
        loss_network_run(profile, tmp_path / "missing.pth")


def test_weights_lookup_follows_torch_hub_without_importing_it(monkeypatch, tmp_path):
    import torch

    from mike.featpred.weights_file import torch_hub_dir

    assert torch_hub_dir() == Path(torch.hub.get_dir())
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    assert torch_hub_dir() == Path(torch.hub.get_dir()) == tmp_path / "hub"
