"""The MIKE autoencoder: encoder = 3×3 conv + 8 MBConv blocks + 2-channel pointwise conv → 2×8×8 embedding;
the decoder mirrors it with its own parameters and outputs 3×64×64 (an image, or mask logits downstream)."""

from __future__ import annotations

import copy

import torch
from torch import nn

from mike.models.blocks import LayerSpec, build_layer

EMBEDDING_CHANNELS = 2
DECODER_MODES = ("fresh", "finetune")  # downstream: a re-initialised or the transferred decoder


def encoder_specs(widths: tuple[int, int, int, int, int], expand: int) -> list[LayerSpec]:
    c0, c1, c2, c3, c4 = widths
    return [
        LayerSpec("E01_stem", "conv", 3, c0, 3, 2),  # 32×32
        LayerSpec("E02_mbconv", "mbconv", c0, c1, 3, 1, 1),
        LayerSpec("E03_mbconv", "mbconv", c1, c2, 3, 2, expand),  # 16
        LayerSpec("E04_mbconv", "mbconv", c2, c2, 3, 1, expand),
        LayerSpec("E05_mbconv", "mbconv", c2, c3, 5, 2, expand),  # 8
        LayerSpec("E06_mbconv", "mbconv", c3, c3, 5, 1, expand),
        LayerSpec("E07_mbconv", "mbconv", c3, c4, 3, 1, expand),
        LayerSpec("E08_mbconv", "mbconv", c4, c4, 3, 1, expand),
        LayerSpec("E09_mbconv", "mbconv", c4, c4, 3, 1, expand),
        LayerSpec("E10_embed", "pointwise", c4, EMBEDDING_CHANNELS),  # 2×8×8
    ]


def decoder_specs(widths: tuple[int, int, int, int, int], expand: int, out_channels: int) -> list[LayerSpec]:
    """The encoder read backwards: each layer undoes one encoder layer (upsampling where it downsampled)."""
    c0, c1, c2, c3, c4 = widths
    return [
        LayerSpec("D10_unembed", "pointwise", EMBEDDING_CHANNELS, c4),
        LayerSpec("D09_mbconv", "mbconv", c4, c4, 3, 1, expand),
        LayerSpec("D08_mbconv", "mbconv", c4, c4, 3, 1, expand),
        LayerSpec("D07_mbconv", "mbconv", c4, c3, 3, 1, expand),
        LayerSpec("D06_mbconv", "mbconv", c3, c3, 5, 1, expand),
        LayerSpec("D05_mbconv", "mbconv", c3, c2, 5, 1, expand, upsample=True),  # 16
        LayerSpec("D04_mbconv", "mbconv", c2, c2, 3, 1, expand),
        LayerSpec("D03_mbconv", "mbconv", c2, c1, 3, 1, expand, upsample=True),  # 32
        LayerSpec("D02_mbconv", "mbconv", c1, c0, 3, 1, 1),
        LayerSpec("D01_out", "head", c0, out_channels, 3, 1, upsample=True),  # 64
    ]


class Encoder(nn.Sequential):
    def __init__(self, widths, expand: int):
        self.specs = encoder_specs(widths, expand)
        super().__init__(*(build_layer(s) for s in self.specs))


class Decoder(nn.Module):
    """Mirrored decoder. output_activation 'sigmoid' gives an image in [0, 1]; None gives logits (masks)."""

    def __init__(self, widths, expand: int, out_channels: int = 3, output_activation: str | None = "sigmoid"):
        super().__init__()
        self.specs = decoder_specs(widths, expand, out_channels)
        self.body = nn.Sequential(*(build_layer(s) for s in self.specs))
        if output_activation not in (None, "sigmoid"):
            raise ValueError(f"unknown output activation {output_activation!r}")
        self.output_activation = output_activation

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        out = self.body(z)
        return torch.sigmoid(out) if self.output_activation == "sigmoid" else out


class Autoencoder(nn.Module):
    def __init__(self, widths: tuple[int, int, int, int, int], expand: int = 4):
        super().__init__()
        self.widths, self.expand = tuple(widths), expand
        self.encoder = Encoder(widths, expand)
        self.decoder = Decoder(widths, expand)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(x))

    def fresh_decoder(self, out_channels: int = 3) -> Decoder:
        """A re-initialised decoder of the same topology emitting logits, for downstream segmentation."""
        return Decoder(self.widths, self.expand, out_channels, output_activation=None)

    def reinterpreted_decoder(self) -> Decoder:
        """A copy of the trained decoder, its 3 output channels read as mask logits instead of an image."""
        decoder = copy.deepcopy(self.decoder)
        decoder.output_activation = None
        return decoder

    def downstream_decoder(self, mode: str, out_channels: int = 3) -> Decoder:
        """'fresh': re-initialised (draws from torch's RNG); 'finetune': the transferred decoder."""
        if mode == "fresh":
            return self.fresh_decoder(out_channels)
        if mode == "finetune":
            if out_channels != self.decoder.specs[-1].out_channels:
                raise ValueError(f"the decoder emits {self.decoder.specs[-1].out_channels} channels")
            return self.reinterpreted_decoder()
        raise ValueError(f"unknown downstream decoder {mode!r}; choose one of {', '.join(DECODER_MODES)}")
