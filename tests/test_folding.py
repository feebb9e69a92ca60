"""BatchNorm folded into the convolutions (mike.models.folding): the same network in eval mode, in float64,
forward and backward to the input, and the original left untouched."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.testing import assert_close

from mike.models.autoencoder import Autoencoder
from mike.models.folding import folded_for_inference
from mike.models.segmenter import Segmenter


def with_trained_statistics(model: nn.Module, seed: int = 0) -> nn.Module:
    """Running statistics and affine parameters unlike the initial ones, so folding has work to do."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.copy_(torch.rand(m.num_features, generator=g) - 0.5)
                m.running_var.copy_(torch.rand(m.num_features, generator=g) * 2 + 0.2)
                m.weight.copy_(torch.rand(m.num_features, generator=g) + 0.5)
                m.bias.copy_(torch.rand(m.num_features, generator=g) - 0.5)
    return model


@pytest.mark.parametrize("layout", [torch.contiguous_format, torch.channels_last])
def test_folded_segmenter_gives_every_layer_and_input_gradient_of_the_eval_model(layout):
    torch.manual_seed(0)
    model = with_trained_statistics(Segmenter((8, 16, 16, 24), 2)).double().to(memory_format=layout).eval()
    folded = folded_for_inference(model)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in folded.modules())
    x = torch.rand(3, 3, 64, 64, dtype=torch.float64).contiguous(memory_format=layout).requires_grad_()
    ours, theirs = folded.forward_features(x), model.forward_features(x)
    for a, b in zip(ours, theirs, strict=True):
        assert_close(a, b, rtol=1e-10, atol=1e-12)
    w = [torch.rand_like(f) for f in theirs]
    (g_ours,) = torch.autograd.grad(sum((f * v).sum() for f, v in zip(ours, w, strict=True)), x)
    (g_theirs,) = torch.autograd.grad(sum((f * v).sum() for f, v in zip(theirs, w, strict=True)), x)
    assert_close(g_ours, g_theirs, rtol=1e-10, atol=1e-12)
    if layout == torch.channels_last:  # the folded convolutions keep the layout the model was given
        assert all(
            p.is_contiguous(memory_format=torch.channels_last) for p in folded.parameters() if p.dim() == 4
        )


def test_folded_encoder_embeds_as_the_eval_encoder():
    torch.manual_seed(1)
    encoder = with_trained_statistics(Autoencoder((8, 8, 16, 16, 24), 1).encoder, seed=1).double().eval()
    x = torch.rand(4, 3, 64, 64, dtype=torch.float64)
    assert_close(folded_for_inference(encoder)(x), encoder(x), rtol=1e-10, atol=1e-12)


def test_the_original_is_left_as_it_was():
    torch.manual_seed(2)
    model = with_trained_statistics(Segmenter((8, 8, 8, 8), 1))  # in training mode, parameters trainable
    before = {k: v.clone() for k, v in model.state_dict().items()}
    folded = folded_for_inference(model)
    assert model.training and all(p.requires_grad for p in model.parameters())
    assert model.state_dict().keys() == before.keys()
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k])
    assert not folded.training and not any(p.requires_grad for p in folded.parameters())
    batch_norms = sum(isinstance(m, nn.BatchNorm2d) for m in model.modules())
    assert batch_norms == 1 + 16 * 2  # the stem's, and two per MBConv block at expansion 1 (none left above)


def test_a_batch_norm_not_after_a_convolution_is_kept():
    model = nn.Sequential(nn.BatchNorm2d(3), nn.Conv2d(3, 4, 3), nn.ReLU(), nn.BatchNorm2d(4))
    folded = folded_for_inference(with_trained_statistics(model).eval())
    assert [type(m) for m in folded] == [nn.BatchNorm2d, nn.Conv2d, nn.ReLU, nn.BatchNorm2d]
    x = torch.rand(2, 3, 8, 8)
    assert_close(folded(x), model(x))


def test_the_copy_shares_no_tensor_or_container_with_the_original():
    """The copy is structural, not deepcopy: its tensors and every module's containers must be its own."""
    torch.manual_seed(3)
    model = with_trained_statistics(Autoencoder((8, 8, 16, 16, 24), 1)).eval()
    folded = folded_for_inference(model)
    theirs = {t.untyped_storage().data_ptr() for t in [*model.parameters(), *model.buffers()]}
    assert not theirs & {t.untyped_storage().data_ptr() for t in [*folded.parameters(), *folded.buffers()]}
    copies = dict(folded.named_modules())
    assert copies.keys() == dict(model.named_modules()).keys()
    for name, original in model.named_modules():
        ours = copies[name]
        assert ours is not original
        if isinstance(original, nn.BatchNorm2d) and isinstance(ours, nn.Identity):
            continue  # folded into the convolution before it
        assert type(ours) is type(original)
        for key, value in vars(original).items():
            if isinstance(value, dict | list | set):
                assert vars(ours)[key] is not value, key
    folded.decoder.register_forward_hook(lambda *args: None)  # a hook on the copy stays on the copy
    assert not model.decoder._forward_hooks
    x = torch.rand(2, 3, 64, 64)
    assert_close(folded(x), model(x), rtol=1e-4, atol=1e-5)


def test_a_module_keeping_a_tensor_or_module_outside_its_registry_is_refused():
    """Only deepcopy would copy such a module right: the structural copy says so instead of sharing it."""

    class Tied(nn.Sequential):
        def __init__(self, extra):
            super().__init__(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4))
            object.__setattr__(self, "extra", extra)  # not registered: a plain attribute

    for extra in (torch.ones(4), [nn.Conv2d(4, 4, 1)], {"w": torch.ones(1)}):
        with pytest.raises(TypeError, match="'extra' holds a tensor, module or bound method"):
            folded_for_inference(Tied(extra).eval())
    folded_for_inference(Tied([1, 2]).eval())  # plain values are fine


def test_embedding_several_sets_folds_once_and_equals_embedding_each():
    from unittest import mock

    from mike.models import folding
    from mike.training import downstream

    torch.manual_seed(4)
    encoder = with_trained_statistics(Autoencoder((8, 8, 16, 16, 24), 1).encoder, seed=4).eval()
    a, b = (torch.randint(0, 256, (n, 3, 64, 64), dtype=torch.uint8) for n in (5, 3))
    with mock.patch.object(downstream, "folded_for_inference", wraps=folding.folded_for_inference) as fold:
        assert downstream.embed_sets(encoder, []) == [] and fold.call_count == 0
        together = downstream.embed_sets(encoder, [a, b])
        assert fold.call_count == 1
    for z, images in zip(together, (a, b), strict=True):
        assert torch.equal(z, downstream.embed(encoder, images))
