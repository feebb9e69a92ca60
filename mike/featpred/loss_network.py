"""The loss network p: AlexNet's features cut after the 2nd ReLU, then a sigmoid; frozen, in eval mode.

As in the original code: torchvision's AlexNet `features[:5]` (conv1 11×11/4 → ReLU → max-pool → conv2 5×5 →
ReLU), no ImageNet mean/std normalisation (inputs in [0, 1], so features lie in [0.5, 1)), flattened.
Weights come from ImageNet (a local file or the torch hub cache) or, when neither is present, from the
project's substitute: the same layers trained by the suite on a labelled task (see `substitute.py`).
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from mike.errors import LossNetworkError
from mike.featpred.weights_file import IMAGENET_FILE, file_digest, imagenet_weights_path  # noqa: F401


def alexnet_trunk() -> nn.Sequential:
    """AlexNet features[:5], layer for layer as torchvision builds them (so its state dict loads)."""
    return nn.Sequential(
        nn.Conv2d(3, 64, kernel_size=11, stride=4, padding=2),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(kernel_size=3, stride=2),
        nn.Conv2d(64, 192, kernel_size=5, padding=2),
        nn.ReLU(inplace=True),
    )


class LossNetwork(nn.Module):
    def __init__(self, trunk: nn.Sequential, source: str):
        super().__init__()
        self.trunk = trunk
        self.source = source  # 'imagenet' or 'substitute:<run>', carried into every result
        self.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True) -> LossNetwork:  # frozen: always in eval mode
        return super().train(False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.trunk(x)).flatten(1)

    def feature_size(self, image_size: int) -> int:
        with torch.no_grad():
            return self(torch.zeros(1, 3, image_size, image_size)).shape[1]


def load_imagenet(path: Path) -> LossNetwork:
    """features.0/.3 of a torchvision AlexNet state dict (or a whole saved `features[:5]`)."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several types for a corrupt or non-torch file
        raise LossNetworkError(f"cannot read AlexNet weights {path}: {type(exc).__name__}") from exc
    state = state.get("state_dict", state) if isinstance(state, dict) else state
    if not isinstance(state, dict):
        kind = type(state).__name__
        raise LossNetworkError(f"{path} does not hold AlexNet's first two conv layers (a {kind})")
    wanted = [f"{layer}.{part}" for layer in (0, 3) for part in ("weight", "bias")]
    trunk_state = {k.removeprefix("features."): v for k, v in state.items()}
    trunk_state = {k: trunk_state[k] for k in wanted if k in trunk_state}
    trunk = alexnet_trunk()
    try:
        trunk.load_state_dict(trunk_state)
    except RuntimeError as exc:
        raise LossNetworkError(f"{path} does not hold AlexNet's first two conv layers") from exc
    return LossNetwork(trunk, "imagenet")
