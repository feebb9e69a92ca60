"""The decoders' output layer in sub-pixel form: the same function, gradients and state dict as ×2 nearest
upsampling followed by the convolution, and the same training results up to float rounding."""

import pytest
import torch
from torch import nn

from mike.models.autoencoder import Autoencoder
from mike.models.upsampled_conv import UpsampledConv, phase_taps
from mike.profiles import SMOKE
from mike.training.downstream import train_decoder
from mike.training.loop import TrainSpec
from mike.training.transfer import train_pixelwise


def as_written(model: nn.Module) -> nn.Module:
    """The model with every sub-pixel layer replaced by the plain Sequential(Upsample, conv) it stands for."""
    for module in list(model.modules()):
        for name, child in list(module.named_children()):
            if isinstance(child, UpsampledConv):
                setattr(module, name, nn.Sequential(child[0], child[1]))
    return model


def test_phase_taps_of_a_3x3_kernel_by_hand():
    # Output row 2i reads upsampled rows 2i−1, 2i, 2i+1 = input rows i−1, i, i;
    # output row 2i+1 reads 2i, 2i+1, 2i+2 = input rows i, i, i+1.
    expected = torch.tensor(
        [
            [[1, 0, 0], [0, 1, 1], [0, 0, 0]],
            [[0, 0, 0], [1, 1, 0], [0, 0, 1]],
        ],
        dtype=torch.float32,
    )
    assert torch.equal(phase_taps(3), expected)
    assert phase_taps(5).shape == (2, 3, 5) and phase_taps(1).shape == (2, 1, 1)
    assert torch.equal(phase_taps(5).sum(dim=1), torch.ones(2, 5))  # every tap lands on exactly one input


@pytest.mark.parametrize("kernel", [1, 3, 5, 7])
@pytest.mark.parametrize("layout", [torch.contiguous_format, torch.channels_last])
def test_same_output_and_gradients_as_upsample_then_conv(kernel, layout):
    torch.manual_seed(kernel)
    conv = nn.Conv2d(5, 3, kernel, padding=kernel // 2).double()
    reference = nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"), conv)
    fast = UpsampledConv(conv)
    x = torch.randn(4, 5, 9, 6, dtype=torch.float64).contiguous(memory_format=layout).requires_grad_()
    grad = torch.randn(4, 3, 18, 12, dtype=torch.float64)
    expected, got = reference(x), fast(x)
    assert got.shape == expected.shape
    torch.testing.assert_close(got, expected, rtol=1e-12, atol=1e-12)
    wrt = (x, conv.weight, conv.bias)
    reference_grads = torch.autograd.grad(expected, wrt, grad)
    fast_grads = torch.autograd.grad(got, wrt, grad)
    for g_ref, g_fast in zip(reference_grads, fast_grads, strict=True):
        torch.testing.assert_close(g_fast, g_ref, rtol=1e-12, atol=1e-11)


def test_phases_interleave_exactly_and_stay_channels_last():
    """The row gather that interleaves the phases equals the permuting copy it replaced, bit for bit, both
    ways, and gives a channels-last image whatever layout its gradient arrives in."""
    from mike.models.upsampled_conv import _InterleavePhases

    torch.manual_seed(0)
    n, out, h, w = 3, 2, 5, 4
    y = torch.randn(n, 4 * out, h, w).contiguous(memory_format=torch.channels_last).requires_grad_()
    image = _InterleavePhases.apply(y)
    by_permute = y.permute(0, 2, 3, 1).reshape(n, h, w, 2, 2, out).permute(0, 1, 3, 2, 4, 5)
    by_permute = by_permute.reshape(n, 2 * h, 2 * w, out).permute(0, 3, 1, 2)
    assert torch.equal(image, by_permute) and image.is_contiguous(memory_format=torch.channels_last)
    assert torch.equal(image[:, :, 1::2, 0::2], y[:, 2 * out : 3 * out])  # phase (a, b) = (1, 0)
    standard = torch.randn(n, out, 2 * h, 2 * w)
    for grad in (standard, standard.contiguous(memory_format=torch.channels_last)):
        (ours,) = torch.autograd.grad(image, y, grad, retain_graph=True)
        (theirs,) = torch.autograd.grad(by_permute, y, grad, retain_graph=True)
        assert torch.equal(ours, theirs)


def test_the_decoders_state_dict_is_the_plain_sequentials():
    ae = Autoencoder(SMOKE.autoencoder_widths, SMOKE.autoencoder_expand)
    head = ae.decoder.body[-1]
    assert isinstance(head, UpsampledConv)
    plain = as_written(Autoencoder(SMOKE.autoencoder_widths, SMOKE.autoencoder_expand))
    assert list(ae.state_dict()) == list(plain.state_dict())  # models stored before load unchanged
    plain.load_state_dict(ae.state_dict())
    x = torch.rand(2, 3, 64, 64)
    ae.eval(), plain.eval()
    torch.testing.assert_close(ae(x), plain(x), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    "conv", [nn.Conv2d(4, 3, 3, padding=1, stride=2), nn.Conv2d(4, 3, 2, padding=1), nn.Conv2d(4, 3, 3)]
)
def test_only_same_padded_stride_1_odd_kernels_are_accepted(conv):
    with pytest.raises(ValueError, match="sub-pixel form needs"):
        UpsampledConv(conv)


def _decoder_training(sub_pixel: bool):
    torch.manual_seed(0)
    ae = Autoencoder(SMOKE.autoencoder_widths, SMOKE.autoencoder_expand)
    decoder = ae.downstream_decoder("fresh", out_channels=3)
    if not sub_pixel:
        as_written(decoder)
    g = torch.Generator().manual_seed(1)
    z, masks = torch.randn(48, 2, 8, 8, generator=g), torch.rand(48, 3, 64, 64, generator=g) > 0.8
    train_decoder(decoder, z, masks, TrainSpec(steps=30, batch_size=16, lr=3e-3), seed=0)
    return decoder.state_dict()


def _baseline_training(sub_pixel: bool):
    torch.manual_seed(0)
    ae = Autoencoder(SMOKE.autoencoder_widths, SMOKE.autoencoder_expand)
    if not sub_pixel:
        as_written(ae)
    g = torch.Generator().manual_seed(1)
    images = torch.randint(0, 256, (48, 3, 64, 64), dtype=torch.uint8, generator=g)
    train_pixelwise(ae, images, TrainSpec(steps=30, batch_size=16, lr=2e-3), seed=0)
    return ae.state_dict()


@pytest.mark.parametrize("training", [_decoder_training, _baseline_training], ids=["downstream", "baseline"])
def test_training_through_it_ends_where_training_through_upsample_then_conv_does(training):
    """30 Adam steps each way: the weights agree up to float rounding (the 'same results' of the speed-up)."""
    fast, written = training(True), training(False)
    assert fast.keys() == written.keys()
    for name, value in written.items():
        torch.testing.assert_close(fast[name], value, rtol=1e-4, atol=1e-5, msg=name)
