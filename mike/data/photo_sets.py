"""SVHN and STL-10 from local files in their standard formats, through torchvision's dataset classes.

Nothing is downloaded: a missing file is a one-line DatasetError naming it. How each is used follows the
feature-prediction paper (Section III): SVHN `extra` trains the autoencoders, `train` the probes, `test`
tests them, and its 32×32 digits are wrap-padded to 64×64 as in the original code; STL-10 `unlabeled`
(96×96) trains the autoencoders, `train` the probes, `test` tests them. torchvision's md5 check is skipped
(it reads every byte of multi-GB files on each load); files that do not parse are reported as corrupt.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torchvision.datasets import STL10, SVHN

from mike.data.labelled_images import LabelledImages
from mike.data.photo_files import (  # noqa: F401  (check_files: re-exported)
    IMAGE_SIZE,
    STL10_SPLITS,
    SVHN_SPLITS,
    check_files,
    require_files,
    stl10_files,
    svhn_files,
)
from mike.errors import DatasetError


class _LocalSVHN(SVHN):
    def _check_integrity(self) -> bool:
        return True


class _LocalSTL10(STL10):
    def _check_integrity(self) -> bool:
        return True


def wrap_pad(images: np.ndarray, size: int) -> np.ndarray:
    """Pad N×C×s×s images to size×size by wrapping around (the original's padding of SVHN)."""
    before = (size - images.shape[-1]) // 2
    after = size - images.shape[-1] - before
    return np.pad(images, ((0, 0), (0, 0), (before, after), (before, after)), mode="wrap")


def load_svhn(root: Path, collection: str, limit: int | None = None) -> LabelledImages:
    files = svhn_files(root, collection)
    require_files(files, "SVHN")
    try:
        ds = _LocalSVHN(str(root), split=SVHN_SPLITS[collection], download=False)
    except Exception as exc:  # scipy raises several types on a truncated or foreign file
        raise DatasetError(f"corrupt SVHN file: {files[0]} ({type(exc).__name__})") from exc
    data, labels = ds.data[:limit], ds.labels[:limit]
    images = torch.from_numpy(np.ascontiguousarray(wrap_pad(data, IMAGE_SIZE["svhn"])))
    keep_labels = collection != "autoencoder"
    return LabelledImages(images, torch.from_numpy(labels.astype(np.int64)) if keep_labels else None)


def load_stl10(root: Path, collection: str, limit: int | None = None) -> LabelledImages:
    files = stl10_files(root, collection)
    require_files(files, "STL-10")
    try:
        ds = _LocalSTL10(str(root), split=STL10_SPLITS[collection], download=False)
    except Exception as exc:  # numpy raises ValueError on a truncated file (reshape)
        raise DatasetError(f"corrupt STL-10 file under {files[0].parent} ({type(exc).__name__})") from exc
    images = torch.from_numpy(np.ascontiguousarray(ds.data[:limit]))
    if collection == "autoencoder":
        return LabelledImages(images, None)
    return LabelledImages(images, torch.from_numpy(ds.labels[:limit].astype(np.int64)))
