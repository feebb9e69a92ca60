"""Layer specs and builders shared by the segmenter and the autoencoder (torchvision's MBConv blocks)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.models.efficientnet import MBConv, MBConvConfig
from torchvision.ops import misc
from torchvision.ops.misc import Conv2dNormActivation

from mike.models.upsampled_conv import UpsampledConv


@dataclass(frozen=True)
class LayerSpec:
    """One convolutional layer: a plain conv ('conv', 'pointwise') or an EfficientNet block ('mbconv')."""

    name: str
    kind: str
    in_channels: int
    out_channels: int
    kernel: int = 3
    stride: int = 1
    expand: int = 4
    upsample: bool = False  # ×2 nearest upsampling before the layer (decoder side; not a conv layer)


@dataclass(frozen=True)
class LayerInfo:
    """What `forward_features` returns for a layer: its name and activation shape (C, H, W) at 64×64 input."""

    name: str
    shape: tuple[int, int, int]


class SpatialMean(nn.Module):
    """The squeeze of squeeze-and-excitation, x.mean over H and W as AdaptiveAvgPool2d(1) computes it, the
    same numbers forward and backward (a sum divided by H·W, as torch's CPU mean), but its gradient stays a
    broadcast view: the pool's backward materialises a channels-first map that is then added to the
    channels-last gradient of the excitation's product, a mixed-layout pass about 10× slower than an aligned
    one (0.73 ms of a 33 ms downstream decoder step at `small`, the largest of several)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.sum((2, 3), keepdim=True) / (x.shape[2] * x.shape[3])


class SqueezeExcitation(misc.SqueezeExcitation):
    """torchvision's squeeze-and-excitation, the same modules, parameters and initialisation, computed with
    less overhead: the squeeze is SpatialMean, and the excitation's two 1×1 convolutions of the (N, C, 1, 1)
    squeeze are matrix products of (N, C). oneDNN spends ~0.13 ms on each such convolution forward and
    backward whatever its size; two per MBConv block came to ~9% of a `small` decoder step. Equal up to float
    rounding (the products sum the C terms in another order)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.avgpool = SpatialMean()  # no parameters: the state dict is torchvision's

    def _scale(self, x: torch.Tensor) -> torch.Tensor:
        s = self.avgpool(x).flatten(1)
        s = self.activation(F.linear(s, self.fc1.weight.flatten(1), self.fc1.bias))
        s = F.linear(s, self.fc2.weight.flatten(1), self.fc2.bias)
        return self.scale_activation(s)[:, :, None, None]


def build_layer(spec: LayerSpec, activation: bool = True) -> nn.Module:
    if spec.kind == "mbconv":
        cnf = MBConvConfig(spec.expand, spec.kernel, spec.stride, spec.in_channels, spec.out_channels, 1)
        block = MBConv(cnf, stochastic_depth_prob=0.0, norm_layer=nn.BatchNorm2d, se_layer=SqueezeExcitation)
    elif spec.kind == "conv":
        block = Conv2dNormActivation(
            spec.in_channels,
            spec.out_channels,
            kernel_size=spec.kernel,
            stride=spec.stride,
            norm_layer=nn.BatchNorm2d,
            activation_layer=nn.SiLU if activation else None,
        )
    elif spec.kind == "pointwise":
        block = nn.Conv2d(spec.in_channels, spec.out_channels, kernel_size=1)
    elif spec.kind == "head":
        block = nn.Conv2d(
            spec.in_channels, spec.out_channels, kernel_size=spec.kernel, padding=spec.kernel // 2
        )
    else:
        raise ValueError(f"unknown layer kind {spec.kind!r}")
    if spec.upsample and spec.kind == "head":
        return UpsampledConv(block)  # the same function and state dict, without the upsampled tensor
    if spec.upsample:
        return nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"), block)
    return block


def shapes_of(features: list[torch.Tensor], names: list[str]) -> list[LayerInfo]:
    return [LayerInfo(n, tuple(f.shape[1:])) for n, f in zip(names, features, strict=True)]
