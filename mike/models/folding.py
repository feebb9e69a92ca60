"""An inference copy of a network with every eval-mode BatchNorm folded into the convolution before it.

In eval mode a BatchNorm is a fixed per-channel affine map, so conv → BN is one conv with scaled weights and
a bias (torch.nn.utils.fusion): the same function up to float rounding, without BatchNorm's own passes over
the activations, forward and backward. Frozen teachers run twice per transfer step (on x and on x̄, with
gradients flowing to x̄) and frozen encoders embed every image once per downstream run; their BatchNorms
were about a third of an embedding and a tenth of a transfer step. Trained networks keep their BatchNorms.
"""

from __future__ import annotations

import copy

import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval


def folded_for_inference(model: nn.Module) -> nn.Module:
    """A frozen, eval-mode deep copy of `model` in which every Conv2d directly followed by a BatchNorm2d
    inside an nn.Sequential (as in torchvision's Conv2dNormActivation and MBConv) is one biased Conv2d and
    the BatchNorm an Identity. The model itself is left as it is (its state dict, its training mode)."""
    inference = copy.deepcopy(model).eval()
    for module in inference.modules():
        if isinstance(module, nn.Sequential):
            _fold_pairs(module)
    for p in inference.parameters():
        p.requires_grad_(False)
    return inference


def _fold_pairs(sequence: nn.Sequential) -> None:
    names = list(sequence._modules)
    for first, second in zip(names, names[1:], strict=False):
        conv, norm = sequence._modules[first], sequence._modules[second]
        if not (isinstance(conv, nn.Conv2d) and type(norm) is nn.BatchNorm2d and norm.track_running_stats):
            continue
        layout = layout_of(conv.weight)
        fused = fuse_conv_bn_eval(conv, norm)
        fused.weight.data = fused.weight.data.contiguous(memory_format=layout)  # keep channels-last
        sequence._modules[first] = fused
        sequence._modules[second] = nn.Identity()


def layout_of(t: torch.Tensor) -> torch.memory_format:
    """channels_last for a 4-d tensor stored so (and not also plainly contiguous), else contiguous."""
    channels_last = t.dim() == 4 and t.is_contiguous(memory_format=torch.channels_last)
    return torch.channels_last if channels_last and not t.is_contiguous() else torch.contiguous_format
