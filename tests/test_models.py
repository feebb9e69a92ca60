"""The networks against the paper's stated topology (Section 4) in the `paper` profile, and every profile."""

import pytest
import torch
from torch import nn
from torchvision.models.efficientnet import MBConv

from mike.models.autoencoder import Autoencoder
from mike.models.segmenter import SKIP_FROM, SKIP_TO, Segmenter
from mike.profiles import PAPER, PROFILES


def conv_layers(module):
    """Top-level convolutional layers: an MBConv block counts as one layer, as the paper counts them."""
    return [m for m in module if isinstance(m, MBConv) or any(isinstance(c, nn.Conv2d) for c in m.modules())]


@pytest.mark.parametrize("profile", PROFILES.values(), ids=PROFILES.keys())
def test_segmenter_has_18_conv_layers_16_mbconv_and_the_skip(profile):
    seg = Segmenter(profile.segmenter_widths, profile.segmenter_expand)
    assert len(conv_layers(seg.layers)) == 18
    assert sum(isinstance(m, MBConv) for m in seg.modules()) == 16
    info = seg.layer_info()
    assert len(info) == 18 and info[-1].shape[0] == 3
    # layer 16 takes the concatenation of layer 2's and layer 15's outputs
    c_skip, c_15 = info[SKIP_FROM - 1].shape[0], info[SKIP_TO - 1].shape[0]
    assert seg.specs[SKIP_TO].in_channels == c_skip + c_15
    assert info[SKIP_FROM - 1].shape[1:] == info[SKIP_TO - 1].shape[1:]
    assert seg(torch.rand(2, 3, 64, 64)).shape == (2, 3, 64, 64)


@pytest.mark.parametrize("profile", PROFILES.values(), ids=PROFILES.keys())
def test_autoencoder_topology_and_embedding_shape(profile):
    ae = Autoencoder(profile.autoencoder_widths, profile.autoencoder_expand)
    enc = list(ae.encoder)
    assert isinstance(enc[0][0] if isinstance(enc[0], nn.Sequential) else enc[0], nn.Module)
    assert ae.encoder.specs[0].kind == "conv" and ae.encoder.specs[0].kernel == 3
    assert [s.kind for s in ae.encoder.specs[1:9]] == ["mbconv"] * 8
    assert ae.encoder.specs[9].kind == "pointwise" and ae.encoder.specs[9].out_channels == 2
    x = torch.rand(2, 3, 64, 64)
    z = ae.encode(x)
    assert z.shape == (2, 2, 8, 8) and z[0].numel() == 128
    assert ae(x).shape == (2, 3, 64, 64)
    # the decoder mirrors the encoder, with its own parameters
    assert sum(s.kind == "mbconv" for s in ae.decoder.specs) == 8 and len(ae.decoder.specs) == 10
    assert not {id(p) for p in ae.encoder.parameters()} & {id(p) for p in ae.decoder.parameters()}


def test_paper_profile_sizes_are_the_papers():
    assert PAPER.tri_class.image_size == 64
    assert PAPER.transfer.steps == 20_000  # Figures 5–6 plot ~20,000 batches
    assert PAPER.segmenter_widths == (16, 24, 40, 80)  # EfficientNet-B0 stage widths


def test_layer_metadata_and_explicit_activation_method():
    seg = Segmenter((8, 8, 8, 8), 1)
    names = [i.name for i in seg.layer_info()]
    assert names == seg.layer_names and names[0] == "L01_stem" and names[-1] == "L18_head"
    feats = seg.forward_features(torch.rand(1, 3, 64, 64))
    assert [tuple(f.shape[1:]) for f in feats] == [i.shape for i in seg.layer_info()]


def test_fresh_decoder_emits_logits_and_is_reinitialised():
    ae = Autoencoder((8, 8, 8, 8, 8), 1)
    dec = ae.fresh_decoder()
    out = dec(torch.randn(4, 2, 8, 8) * 10)
    assert out.shape == (4, 3, 64, 64) and (out.min() < 0 or out.max() > 1)
    assert all(a is not b for a, b in zip(dec.parameters(), ae.decoder.parameters(), strict=True))


def test_downstream_decoder_fresh_or_the_transferred_one_reinterpreted():
    from mike.models.autoencoder import Autoencoder

    torch.manual_seed(0)
    ae = Autoencoder((8, 8, 8, 8, 8), 1)
    z = torch.randn(2, 2, 8, 8)
    tuned = ae.downstream_decoder("finetune")
    assert all(
        torch.equal(a, b)
        for a, b in zip(tuned.state_dict().values(), ae.decoder.state_dict().values(), strict=True)
    )
    image = ae.decoder.eval()(z)
    logits = tuned.eval()(z)
    assert torch.allclose(torch.sigmoid(logits), image)  # same weights, the output read as logits
    assert tuned.body[0].weight.data_ptr() != ae.decoder.body[0].weight.data_ptr()  # a copy: the encoder's
    fresh = ae.downstream_decoder("fresh")  # autoencoder stays as trained
    assert not torch.equal(fresh.body[0].weight, ae.decoder.body[0].weight)
    with pytest.raises(ValueError, match="unknown downstream decoder"):
        ae.downstream_decoder("frozen")


def test_squeeze_excitation_is_torchvisions_up_to_rounding():
    """Our squeeze-and-excitation (squeeze as SpatialMean, excitation as matrix products) draws the same
    initial parameters as torchvision's from the same seed, has its state dict, and computes its function
    and gradients up to float rounding; the input's gradient stays channels-last."""
    from torchvision.ops.misc import SqueezeExcitation as Torchvisions

    from mike.models.blocks import SqueezeExcitation

    torch.manual_seed(3)
    ours = SqueezeExcitation(24, 6, activation=nn.SiLU)
    torch.manual_seed(3)
    theirs = Torchvisions(24, 6, activation=nn.SiLU)
    assert ours.state_dict().keys() == theirs.state_dict().keys()
    pairs = zip(ours.state_dict().values(), theirs.state_dict().values(), strict=True)
    assert all(torch.equal(a, b) for a, b in pairs)
    x = torch.randn(5, 24, 7, 7).contiguous(memory_format=torch.channels_last)
    results = []
    for block in (ours, theirs):
        xi = x.clone().requires_grad_()
        out = block(xi)
        out.backward(torch.cos(out.detach()))
        results.append((out, xi.grad, block.fc1.weight.grad, block.fc2.bias.grad))
    for a, b in zip(*results, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
    assert results[0][1].is_contiguous(memory_format=torch.channels_last)
    assert not torch.equal(results[0][0], 0 * results[0][0])  # not a degenerate block


def test_squeeze_excitation_pool_is_the_adaptive_pool_to_the_bit():
    """MBConv's squeeze is SpatialMean: no state-dict change, the same numbers forward and backward as
    AdaptiveAvgPool2d(1), and a channels-last gradient for a channels-last input."""
    from torchvision.ops.misc import SqueezeExcitation

    from mike.models.blocks import LayerSpec, SpatialMean, build_layer

    torch.manual_seed(0)
    ours = build_layer(LayerSpec("m", "mbconv", 8, 16, 5, 1, 4)).to(memory_format=torch.channels_last)
    theirs = build_layer(LayerSpec("m", "mbconv", 8, 16, 5, 1, 4)).to(memory_format=torch.channels_last)
    theirs.load_state_dict(ours.state_dict())
    squeezes = [m for m in theirs.modules() if isinstance(m, SqueezeExcitation)]
    assert len(squeezes) == 1 and isinstance(squeezes[0].avgpool, SpatialMean)
    squeezes[0].avgpool = nn.AdaptiveAvgPool2d(1)
    assert ours.state_dict().keys() == theirs.state_dict().keys()
    x = torch.randn(6, 8, 12, 12).contiguous(memory_format=torch.channels_last)
    grads = []
    for block in (ours, theirs):
        xi = x.clone().requires_grad_()
        out = block(xi)
        out.backward(torch.ones_like(out))
        grads.append((out, xi.grad))
    assert torch.equal(grads[0][0], grads[1][0]) and torch.equal(grads[0][1], grads[1][1])
    assert grads[0][1].is_contiguous(memory_format=torch.channels_last)
