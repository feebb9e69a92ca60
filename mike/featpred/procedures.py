"""The six autoencoder procedures of the feature-prediction paper: (encoder)-(decoder)-(loss).

With X an image, p the loss network, en/de the encoder/decoder (Section IV):
  PW (Eq. 1): MSE(de(en(·)), X)          — the decoder outputs an image
  PS (Eq. 2): MSE(p(de(en(·))), p(X))    — the image output goes through p
  FP (Eq. 3): MSE(de(en(·)), p(X))       — the decoder outputs p's features directly
where the encoder's input is X (I) or p(X) (F). MSE is the mean over elements, as torch's MSELoss in the
original code. With gamma > 0 the coder is variational and gamma·KLD is added (off by default: the paper
reports no variational results; the original code trained both).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from mike.featpred.coders import FeatureDecoder, FeatureEncoder, ImageDecoder, ImageEncoder
from mike.featpred.loss_network import LossNetwork
from mike.featpred.procedure_table import PROCEDURES, Procedure, get_procedure  # noqa: F401


def kl_divergence(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """As in the original code: -mean(1 + logvar - mu² - exp(logvar))."""
    return -torch.mean(1 + logvar - mu.pow(2) - logvar.exp())


class ProcedureAutoencoder(nn.Module):
    """Encoder and decoder of one procedure; the loss network is passed in (frozen, shared)."""

    def __init__(self, procedure: str, image_size: int, z: int, feature_size: int, gamma: float = 0.0):
        super().__init__()
        self.procedure = get_procedure(procedure)
        self.gamma = gamma
        variational = gamma > 0
        p = self.procedure
        self.encoder = (
            ImageEncoder(image_size, z, variational)
            if p.encoder == "I"
            else FeatureEncoder(feature_size, z, variational)
        )
        self.decoder = ImageDecoder(image_size, z) if p.decoder == "I" else FeatureDecoder(z, feature_size)

    def encoder_input(self, x: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        return x if self.procedure.encoder == "I" else y

    def embed(self, x: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        """The embedding given to the probes: mu."""
        return self.encoder(self.encoder_input(x, y))[0]

    def loss(
        self, x: torch.Tensor, loss_net: LossNetwork | None, y: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, dict[str, float]]:
        """The procedure's training loss on images x in [0, 1]; y = p(x) when already computed."""
        p = self.procedure
        if p.uses_loss_network and y is None:
            with torch.no_grad():
                y = loss_net(x)
        mu, logvar = self.encoder(self.encoder_input(x, y))
        code = mu
        if logvar is not None and self.training:
            code = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        out = self.decoder(code)
        if p.loss == "PW":
            reconstruction = F.mse_loss(out, x)
        elif p.loss == "PS":
            reconstruction = F.mse_loss(loss_net(out), y)
        else:
            reconstruction = F.mse_loss(out, y)
        parts = {"reconstruction": reconstruction.item()}
        if logvar is None:
            return reconstruction, parts
        kld = kl_divergence(mu, logvar)
        parts["kld"] = kld.item()
        return reconstruction + self.gamma * kld, parts
