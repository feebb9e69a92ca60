"""Table II's "simple CNN": the image encoder of Fig. 3 followed by an MLP with one hidden layer of 256,
trained end to end on the labelled probe-training collection (Section IX).

The paper gives no more than that sentence; the choices here follow the probes of the same paper, so the
CNN differs from a probe on a frozen embedding only in that its encoder is trained with the labels: the
encoder's output is its linear head to z (z = 64 by default, the smallest latent size of the study), the
MLP uses LeakyReLU and a linear output, and it is trained with MSE on positions or one-hot labels, Adam,
early stopping on the last 20% of the collection, the best-validation weights restored.
"""

from __future__ import annotations

import torch
from torch import nn

from mike.featpred.coders import ImageEncoder
from mike.featpred.probes import make_probe

HIDDEN = 256


class SimpleCNN(nn.Module):
    def __init__(self, image_size: int, z: int, outputs: int):
        super().__init__()
        self.encoder = ImageEncoder(image_size, z)
        self.head = make_probe(z, (HIDDEN,), outputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.encoder(x)[0])
