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
    """Every file the suite will read, before anything starts: a missing one is named, and one that is not
    in its format (a foreign or truncated file) too, from its header and size, without reading it all."""
    lister = svhn_files if dataset == "svhn" else stl10_files
    for collection in SVHN_SPLITS:
        files = lister(root, collection)
        require_files(files, "SVHN" if dataset == "svhn" else "STL-10")
        if dataset == "svhn":
            _check_svhn_mat(files[0])
        else:
            _check_stl10_bins(files)


def _check_svhn_mat(file: Path) -> None:
    """X: 32×32×3×N, y: N×1, as SVHN's MATLAB files hold them."""
    from scipy.io import whosmat  # scipy only here: planning without SVHN never imports it

    try:
        shapes = {name: shape for name, shape, _ in whosmat(str(file))}
    except Exception as exc:  # scipy raises several types on a foreign or truncated file
        raise DatasetError(f"corrupt SVHN file: {file} ({type(exc).__name__})") from None
    x, y = shapes.get("X"), shapes.get("y")
    if x is None or y is None or tuple(x[:3]) != (32, 32, 3) or y[0] != x[3]:
        raise DatasetError(f"corrupt SVHN file: {file} (holds {shapes}, not X 32×32×3×N and y N×1)")


def _check_stl10_bins(files: list[Path]) -> None:
    """STL-10's binaries: whole 3×96×96 uint8 images, and one label byte per image."""
    image_bytes = 3 * 96 * 96
    size = files[0].stat().st_size
    if size == 0 or size % image_bytes:
        raise DatasetError(f"corrupt STL-10 file: {files[0]} ({size} bytes is not a whole number of images)")
    labels = files[1].stat().st_size if len(files) > 1 else size // image_bytes
    if labels != size // image_bytes:
        raise DatasetError(
            f"corrupt STL-10 file: {files[1]} ({labels} labels for {size // image_bytes} images)"
        )
