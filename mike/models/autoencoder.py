"""The MIKE autoencoder: encoder = 3×3 conv + 8 MBConv blocks + 2-channel pointwise conv → 2×8×8 embedding;
the decoder mirrors it with its own parameters and outputs 3×64×64 (an image, or mask logits downstream).

Section 5's experiments vary what the paper fixed: the embedding's channels (`embedding_channels`, the
`bottleneck` suite) and the decoder's capacity (`decoder_widths`, `decoder_blocks`: the `decoder` suite).
The defaults are the paper's topology. The downstream network is always the mirror of the encoder, so
that a decoder variant changes what the encoder learns, never the network that reads its embeddings."""

from __future__ import annotations

import copy

import torch
from torch import nn

from mike.models.blocks import LayerSpec, build_layer

EMBEDDING_CHANNELS = 2
DECODER_MODES = ("fresh", "finetune")  # downstream: a re-initialised or the transferred decoder


def encoder_specs(
    widths: tuple[int, int, int, int, int], expand: int, embedding_channels: int = EMBEDDING_CHANNELS
) -> list[LayerSpec]:
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
        LayerSpec("E10_embed", "pointwise", c4, embedding_channels),  # 2×8×8 in the paper
    ]


def decoder_specs(
    widths: tuple[int, int, int, int, int],
    expand: int,
    out_channels: int,
    embedding_channels: int = EMBEDDING_CHANNELS,
    extra_blocks: int = 0,
) -> list[LayerSpec]:
    """The encoder read backwards: each layer undoes one encoder layer (upsampling where it downsampled).
    extra_blocks: MBConv blocks added at 8×8 after the unembedding (a deeper decoder; 0 in the paper)."""
    c0, c1, c2, c3, c4 = widths
    extra = [LayerSpec(f"D09x{k + 1}_mbconv", "mbconv", c4, c4, 3, 1, expand) for k in range(extra_blocks)]
    return [
        LayerSpec("D10_unembed", "pointwise", embedding_channels, c4),
        *extra,
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
    def __init__(self, widths, expand: int, embedding_channels: int = EMBEDDING_CHANNELS):
        self.specs = encoder_specs(widths, expand, embedding_channels)
        super().__init__(*(build_layer(s) for s in self.specs))


class Decoder(nn.Module):
    """Mirrored decoder. output_activation 'sigmoid' gives an image in [0, 1]; None gives logits (masks)."""

    def __init__(
        self,
        widths,
        expand: int,
        out_channels: int = 3,
        output_activation: str | None = "sigmoid",
        embedding_channels: int = EMBEDDING_CHANNELS,
        extra_blocks: int = 0,
    ):
        super().__init__()
        self.specs = decoder_specs(widths, expand, out_channels, embedding_channels, extra_blocks)
        self.body = nn.Sequential(*(build_layer(s) for s in self.specs))
        if output_activation not in (None, "sigmoid"):
            raise ValueError(f"unknown output activation {output_activation!r}")
        self.output_activation = output_activation

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        out = self.body(z)
        return torch.sigmoid(out) if self.output_activation == "sigmoid" else out


class Autoencoder(nn.Module):
    def __init__(
        self,
        widths: tuple[int, int, int, int, int],
        expand: int = 4,
        embedding_channels: int = EMBEDDING_CHANNELS,
        decoder_widths: tuple[int, int, int, int, int] | None = None,
        decoder_blocks: int = 0,
    ):
        super().__init__()
        self.widths, self.expand, self.embedding_channels = tuple(widths), expand, embedding_channels
        self.encoder = Encoder(widths, expand, embedding_channels)
        self.decoder = Decoder(
            tuple(decoder_widths or widths),
            expand,
            embedding_channels=embedding_channels,
            extra_blocks=decoder_blocks,
        )

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(x))

    def fresh_decoder(self, out_channels: int = 3) -> Decoder:
        """A re-initialised mirror of the encoder emitting logits, for downstream segmentation (the
        downstream network: the transferred decoder's topology when that is the paper's mirror)."""
        return Decoder(
            self.widths, self.expand, out_channels, None, embedding_channels=self.embedding_channels
        )

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
