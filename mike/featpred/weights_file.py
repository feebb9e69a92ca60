"""Where ImageNet AlexNet weights are found, and their digest: plain file work, no torch (for planning)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from mike.errors import LossNetworkError

IMAGENET_FILE = "alexnet-owt-7be5be79.pth"  # torchvision's AlexNet_Weights.IMAGENET1K_V1


def torch_hub_dir() -> Path:
    """torch.hub.get_dir() without importing torch: $TORCH_HOME/hub, else $XDG_CACHE_HOME/torch/hub."""
    home = os.environ.get("TORCH_HOME") or os.path.join(os.environ.get("XDG_CACHE_HOME", "~/.cache"), "torch")
    return Path(os.path.expanduser(home)) / "hub"


def imagenet_weights_path(explicit: Path | None) -> Path | None:
    """The ImageNet AlexNet file: the one given, else torch hub's cache, else None."""
    if explicit is not None:
        if not Path(explicit).is_file():
            raise LossNetworkError(f"AlexNet weights file not found: {explicit}")
        return Path(explicit)
    cached = torch_hub_dir() / "checkpoints" / IMAGENET_FILE
    return cached if cached.is_file() else None


def file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:16]
