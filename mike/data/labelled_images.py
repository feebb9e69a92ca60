"""The shared form of every image dataset of the feature-prediction suite, and its on-disk cache."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from mike.data.tri_class import DatasetError


@dataclass
class LabelledImages:
    """uint8 images N×3×S×S with float positions N×2 (LunarLander) or int64 classes N (SVHN, STL-10)."""

    images: torch.Tensor
    labels: torch.Tensor | None  # None for unlabelled autoencoder data

    def __len__(self) -> int:
        return self.images.shape[0]

    def head(self, n: int | None) -> LabelledImages:
        """The first n samples (the whole set when n is None or larger)."""
        if n is None or n >= len(self):
            return self
        return LabelledImages(self.images[:n], None if self.labels is None else self.labels[:n])


def save_images(path: Path, data: LabelledImages) -> None:
    arrays = {"images": data.images.numpy()}
    if data.labels is not None:
        arrays["labels"] = data.labels.numpy()
    np.savez(path, **arrays)


def load_images(path: Path) -> LabelledImages:
    try:
        with np.load(path) as data:
            labels = torch.from_numpy(data["labels"]) if "labels" in data.files else None
            return LabelledImages(torch.from_numpy(data["images"]), labels)
    except (OSError, ValueError, KeyError) as exc:
        raise DatasetError(
            f"corrupt dataset cache: {path} ({type(exc).__name__}); delete it to rebuild"
        ) from exc
