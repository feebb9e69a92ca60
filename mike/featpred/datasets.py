"""Which images a feature-prediction run uses: the LunarLander collection, SVHN or STL-10, by config."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

from mike.data.photo_files import IMAGE_SIZE
from mike.data.specs import LunarLanderConfig

DATASETS = ("lunar_lander", "svhn", "stl10")
CLASSES = {"lunar_lander": None, "svhn": 10, "stl10": 10}  # None: (x, y) positions
COLLECTION_NAMES = ("autoencoder", "probe_train", "probe_test")


def data_config(
    dataset: str, lunar: LunarLanderConfig, root: Path | None, limits: tuple[int, int, int]
) -> dict:
    """The JSON-able description stored in every run's config. limits: max images per collection, 0 = all."""
    if dataset == "lunar_lander":
        return {"dataset": dataset, "lunar": asdict(lunar)}
    return {"dataset": dataset, "root": str(Path(root).resolve()), "limits": list(limits)}


def image_size(data: dict) -> int:
    return data["lunar"]["image_size"] if data["dataset"] == "lunar_lander" else IMAGE_SIZE[data["dataset"]]


def load_collection(data: dict, collection: str, cache_dir: Path):
    """The collection's LabelledImages (its loaders, and torch, are imported only here)."""
    from mike.data.lunar_lander import lunar_lander
    from mike.data.photo_sets import load_stl10, load_svhn

    if data["dataset"] == "lunar_lander":
        return lunar_lander(LunarLanderConfig(**data["lunar"]), collection, cache_dir)
    limit = data["limits"][COLLECTION_NAMES.index(collection)] or None
    loader = load_svhn if data["dataset"] == "svhn" else load_stl10
    return loader(Path(data["root"]), collection, limit)
