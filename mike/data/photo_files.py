"""The files SVHN and STL-10 come in, where each collection is read from, and the check that they are all
there before a suite starts. No torch, no torchvision: planning runs this check."""

from __future__ import annotations

from pathlib import Path

from mike.errors import DatasetError

SVHN_SPLITS = {"autoencoder": "extra", "probe_train": "train", "probe_test": "test"}
STL10_SPLITS = {"autoencoder": "unlabeled", "probe_train": "train", "probe_test": "test"}
STL10_FOLDER = "stl10_binary"  # torchvision's STL10.base_folder
IMAGE_SIZE = {"svhn": 64, "stl10": 96}  # after SVHN's wrap-padding


def svhn_files(root: Path, collection: str) -> list[Path]:
    return [Path(root) / f"{SVHN_SPLITS[collection]}_32x32.mat"]


def stl10_files(root: Path, collection: str) -> list[Path]:
    folder = Path(root) / STL10_FOLDER
    split = STL10_SPLITS[collection]
    return [folder / f"{split}_X.bin"] + ([] if split == "unlabeled" else [folder / f"{split}_y.bin"])


def require_files(files: list[Path], dataset: str) -> None:
    for file in files:
        if not file.is_file():
            raise DatasetError(f"{dataset} file not found: {file}")


def check_files(dataset: str, root: Path) -> None:
    """Every file the suite will read, before anything starts: a missing one is named."""
    lister = svhn_files if dataset == "svhn" else stl10_files
    for collection in SVHN_SPLITS:
        require_files(lister(root, collection), "SVHN" if dataset == "svhn" else "STL-10")
