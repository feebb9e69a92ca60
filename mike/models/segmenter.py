"""The teacher: a 3-class segmenter of 18 convolutional layers including 16 EfficientNet (MBConv) blocks.

Layer 1 is a 3×3 stride-2 stem conv (as in EfficientNet), layers 2–17 are MBConv blocks (down to 4×4, then
back up to 32×32 with nearest upsampling), layer 18 a 1×1 conv giving 3 class logits, bilinearly upsampled
to the 64×64 input size (upsampling is not a convolutional layer). The output of layer 2 is concatenated with
the output of layer 15 and fed to layer 16 (the paper's skip connection).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from mike.models.blocks import LayerInfo, LayerSpec, build_layer, shapes_of

SKIP_FROM, SKIP_TO = 2, 15  # 1-based layer numbers of the skip connection (Section 4)


def segmenter_specs(widths: tuple[int, int, int, int], expand: int, num_classes: int = 3) -> list[LayerSpec]:
    c1, c2, c3, c4 = widths
    mb = lambda name, i, o, k=3, s=1, up=False: LayerSpec(name, "mbconv", i, o, k, s, expand, up)  # noqa: E731
    return [
        LayerSpec("L01_stem", "conv", 3, c1, 3, 2),  # 32×32, stride 2 as in EfficientNet's stem
        LayerSpec("L02_mbconv", "mbconv", c1, c1, 3, 1, 1),  # source of the skip
        mb("L03_mbconv", c1, c2, 3, 2),  # 16
        mb("L04_mbconv", c2, c2),
        mb("L05_mbconv", c2, c3, 5, 2),  # 8
        mb("L06_mbconv", c3, c3, 5),
        mb("L07_mbconv", c3, c4, 3, 2),  # 4
        mb("L08_mbconv", c4, c4),
        mb("L09_mbconv", c4, c4, 5),
        mb("L10_mbconv", c4, c4, 5),
        mb("L11_mbconv", c4, c3, 5, up=True),  # 8
        mb("L12_mbconv", c3, c3, 5),
        mb("L13_mbconv", c3, c2, up=True),  # 16
        mb("L14_mbconv", c2, c2),
        mb("L15_mbconv", c2, c1, up=True),  # 32, concatenated with L02
        mb("L16_mbconv", 2 * c1, c1),
        mb("L17_mbconv", c1, c1),
        LayerSpec("L18_head", "head", c1, num_classes, 1, 1),  # logits at 32×32, upsampled to 64×64
    ]


class Segmenter(nn.Module):
    """EfficientNet-block segmenter; `forward_features` exposes every layer's activation for MIKE."""

    def __init__(self, widths: tuple[int, int, int, int], expand: int = 4, num_classes: int = 3):
        super().__init__()
        self.specs = segmenter_specs(widths, expand, num_classes)
        self.layers = nn.ModuleList(build_layer(s) for s in self.specs)

    @property
    def layer_names(self) -> list[str]:
        return [s.name for s in self.specs]

    def forward_features(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Activations of all 18 layers, in order; the last is the class logits."""
        features: list[torch.Tensor] = []
        h = x
        for number, layer in enumerate(self.layers, start=1):
            if number == SKIP_TO + 1:
                h = torch.cat([features[SKIP_FROM - 1], h], dim=1)
            h = layer(h)
            features.append(h)
        return features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits = self.forward_features(x)[-1]
        return F.interpolate(logits, size=x.shape[-2:], mode="bilinear", align_corners=False)

    def layer_info(self, image_size: int = 64) -> list[LayerInfo]:
        was_training = self.training
        self.eval()
        with torch.no_grad():
            feats = self.forward_features(torch.zeros(1, 3, image_size, image_size))
        self.train(was_training)
        return shapes_of(feats, self.layer_names)

    def freeze(self) -> Segmenter:
        """Freeze as a MIKE teacher: no parameter gradients and eval-mode BatchNorm, while gradients still
        flow through it to its input (the reconstruction), which is how knowledge reaches the autoencoder."""
        self.eval()
        for p in self.parameters():
            p.requires_grad_(False)
        return self

    def train(self, mode: bool = True) -> Segmenter:
        # A frozen teacher stays in eval mode: its BatchNorm statistics must not drift during transfer.
        frozen = any(True for _ in self.parameters()) and not any(p.requires_grad for p in self.parameters())
        return super().train(mode and not frozen)
