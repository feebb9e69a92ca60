"""The four coders of the feature-prediction paper (Figures 3–4, Section V), as in the original code.

Image encoder: Conv 3→32→64→128→256 (kernel 4, stride 2, no padding), BatchNorm + ReLU, then linear heads to
z (mu, and logvar when variational). Image decoder: linear z→1024·g², ReLU, four transposed convolutions
(k5, k5, k6, k6, stride 2) back to the image, sigmoid. Both take square images of 64+16n pixels (g = n+1);
SVHN's 32×32 digits are wrap-padded to 64 by the data loader, as in the original.
Feature coders: MLPs with one hidden layer of min(F/2, 2048), ReLU; the decoder has no output activation.
"""

from __future__ import annotations

import torch
from torch import nn


def grid_size(size: int) -> int:
    """g of the image coders for a size×size input: 1 at 64, 2 at 80, 3 at 96."""
    if size < 64 or (size - 64) % 16:
        raise ValueError(
            f"image coders take 64+16n pixels, got {size}; "
            "32×32 images (SVHN) are wrap-padded to 64×64 first, as in the original code"
        )
    return (size - 64) // 16 + 1


class LatentHeads(nn.Module):
    """mu and (variational only) logvar of the latent code."""

    def __init__(self, features: int, z: int, variational: bool):
        super().__init__()
        self.mu = nn.Linear(features, z)
        self.logvar = nn.Linear(features, z) if variational else None

    def forward(self, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        return self.mu(h), (self.logvar(h) if self.logvar is not None else None)


class ImageEncoder(nn.Module):
    def __init__(self, size: int, z: int, variational: bool = False):
        super().__init__()
        g = grid_size(size)
        layers, channels = [], 3
        for out in (32, 64, 128, 256):
            layers += [nn.Conv2d(channels, out, 4, stride=2), nn.BatchNorm2d(out), nn.ReLU(inplace=True)]
            channels = out
        self.body = nn.Sequential(*layers, nn.Flatten())
        # 64 px: 64→31→14→6→2, so 256·2·2 = 1024 features; 96 px: 96→47→22→10→4, 4096.
        self.heads = LatentHeads(256 * (g + 1) * (g + 1), z, variational)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        return self.heads(self.body(x))


class ImageDecoder(nn.Module):
    def __init__(self, size: int, z: int):
        super().__init__()
        self.g = grid_size(size)
        self.project = nn.Sequential(nn.Linear(z, 1024 * self.g * self.g), nn.ReLU(inplace=True))
        layers, channels = [], 1024
        for out, kernel in ((128, 5), (64, 5), (32, 6)):
            layers += [
                nn.ConvTranspose2d(channels, out, kernel, stride=2),
                nn.BatchNorm2d(out),
                nn.ReLU(True),
            ]
            channels = out
        self.body = nn.Sequential(*layers, nn.ConvTranspose2d(32, 3, 6, stride=2), nn.Sigmoid())

    def forward(self, code: torch.Tensor) -> torch.Tensor:
        return self.body(self.project(code).view(-1, 1024, self.g, self.g))


def hidden_width(features: int) -> int:
    return min(features // 2, 2048)


class FeatureEncoder(nn.Module):
    def __init__(self, features: int, z: int, variational: bool = False):
        super().__init__()
        h = hidden_width(features)
        self.body = nn.Sequential(nn.Flatten(), nn.Linear(features, h), nn.ReLU(inplace=True))
        self.heads = LatentHeads(h, z, variational)

    def forward(self, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        return self.heads(self.body(y))


class FeatureDecoder(nn.Module):
    def __init__(self, z: int, features: int):
        super().__init__()
        h = hidden_width(features)
        self.body = nn.Sequential(nn.Linear(z, h), nn.ReLU(inplace=True), nn.Linear(h, features))

    def forward(self, code: torch.Tensor) -> torch.Tensor:
        return self.body(code)
