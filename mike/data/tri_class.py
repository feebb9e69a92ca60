"""Builds the tri-class segmentation datasets of MIKE Section 4.1 from any COCO-format root with pycocotools.

Each instance of the task's classes is cropped from its bounding box with some context, augmented by
shifting, zooming and mirroring, and resized to 64×64; the target is a 3-channel mask (one channel per
class, channel order = the task's class order) from every segmentation of those classes inside the crop.
The build is deterministic for a seed and cached on disk keyed by its config.
"""

from __future__ import annotations

import contextlib
import io
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError
from pycocotools.coco import COCO

from mike.data.cache import atomic_directory, config_hash, is_complete
from mike.data.specs import TriClassConfig
from mike.data.tasks import Task
from mike.errors import DatasetError  # noqa: F401  (raised here; importers find it here too)


@dataclass
class TriClassData:
    """A built split: uint8 images N×3×S×S and bool masks N×3×S×S (one channel per class)."""

    task: str
    split: str
    images: torch.Tensor
    masks: torch.Tensor

    def __len__(self) -> int:
        return self.images.shape[0]


def coco_paths(root: Path, split: str) -> tuple[Path, Path]:
    """The annotation file and image folder of a COCO 2017-style root, checked to exist."""
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"COCO root not found: {root}")
    annotation_file = root / "annotations" / f"instances_{split}.json"
    if not annotation_file.is_file():
        raise DatasetError(f"COCO annotation file not found: {annotation_file}")
    images_dir = root / split
    if not images_dir.is_dir():
        raise DatasetError(f"COCO image folder not found: {images_dir}")
    return annotation_file, images_dir


def load_coco(annotation_file: Path) -> COCO:
    """Load an instances JSON with pycocotools, refusing anything that is not COCO instances format."""
    try:
        with open(annotation_file, "rb") as fh:
            document = json.load(fh)
    except (OSError, ValueError) as exc:
        raise DatasetError(f"not a readable JSON file: {annotation_file} ({exc.__class__.__name__})") from exc
    missing = [
        k
        for k in ("images", "annotations", "categories")
        if not isinstance(document, dict) or k not in document
    ]
    if missing:
        raise DatasetError(f"not a COCO instances file (no {', '.join(missing)}): {annotation_file}")
    coco = COCO()
    coco.dataset = document
    with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints progress lines
        coco.createIndex()
    return coco


def _crop_box(bbox, cfg: TriClassConfig, rng: np.random.Generator) -> tuple[float, float, float]:
    x, y, w, h = bbox
    side = max(w, h) * cfg.context * rng.uniform(*cfg.zoom)
    cx = x + w / 2 + rng.uniform(-cfg.shift, cfg.shift) * side
    cy = y + h / 2 + rng.uniform(-cfg.shift, cfg.shift) * side
    return cx - side / 2, cy - side / 2, side


def _class_masks(coco: COCO, image_info: dict, category_ids) -> np.ndarray:
    """Union of every non-crowd segmentation of each class in the image: 3×H×W bool."""
    masks = np.zeros((3, image_info["height"], image_info["width"]), bool)
    for channel, cat_id in enumerate(category_ids):
        for ann in coco.loadAnns(coco.getAnnIds(imgIds=image_info["id"], catIds=[cat_id], iscrowd=False)):
            masks[channel] |= coco.annToMask(ann).astype(bool)
    return masks


def _open_image(path: Path) -> Image.Image:
    try:
        with Image.open(path) as im:
            return im.convert("RGB")
    except (OSError, UnidentifiedImageError) as exc:
        raise DatasetError(f"unreadable image: {path}") from exc


def _build(coco: COCO, images_dir: Path, task: Task, split: str, cfg: TriClassConfig):
    rng = np.random.default_rng([cfg.seed, sum(map(ord, task.code)), sum(map(ord, split))])
    known = {c["id"] for c in coco.loadCats(coco.getCatIds())}
    ann_ids: list[int] = []
    for name, cat_id in zip(task.classes, task.category_ids, strict=True):
        if cat_id not in known:
            raise DatasetError(f"class {name!r} (COCO id {cat_id}) is not in the annotation file for {split}")
        ids = [
            a["id"]
            for a in coco.loadAnns(coco.getAnnIds(catIds=[cat_id], iscrowd=False))
            if a["area"] >= cfg.min_instance_area
        ]
        if not ids:
            raise DatasetError(f"class {name!r} of task {task.code} has no instances in {split}")
        ids.sort()
        if len(ids) > cfg.max_instances_per_class:
            ids = sorted(rng.choice(ids, cfg.max_instances_per_class, replace=False).tolist())
        ann_ids.extend(ids)
    by_image: dict[int, list[dict]] = {}
    for ann in coco.loadAnns(ann_ids):
        by_image.setdefault(ann["image_id"], []).append(ann)
    s = cfg.image_size
    images, masks = [], []
    for image_id in sorted(by_image):
        info = coco.loadImgs(image_id)[0]
        picture = _open_image(images_dir / info["file_name"])
        class_masks = _class_masks(coco, info, task.category_ids)
        mask_pictures = [Image.fromarray(m.astype(np.uint8) * 255) for m in class_masks]
        for ann in sorted(by_image[image_id], key=lambda a: a["id"]):
            for _ in range(cfg.augmentations_per_instance):
                left, top, side = _crop_box(ann["bbox"], cfg, rng)
                box = (left, top, left + side, top + side)
                mirror = rng.uniform() < cfg.mirror_probability
                crop = picture.transform((s, s), Image.Transform.EXTENT, box, Image.Resampling.BILINEAR)
                target = np.stack(
                    [
                        np.asarray(
                            m.transform((s, s), Image.Transform.EXTENT, box, Image.Resampling.BILINEAR)
                        )
                        >= 128
                        for m in mask_pictures
                    ]
                )
                crop_array = np.asarray(crop)
                if mirror:
                    crop_array, target = crop_array[:, ::-1], target[:, :, ::-1]
                images.append(crop_array.transpose(2, 0, 1))
                masks.append(target)
    return np.stack(images), np.stack(masks)


def build_tri_class(
    coco_root: Path, task: Task, split: str, cfg: TriClassConfig, cache_root: Path, coco: COCO | None = None
) -> TriClassData:
    """Build (or load from cache) one task's split. Pass `coco` to reuse an already loaded annotation file."""
    annotation_file, images_dir = coco_paths(coco_root, split)
    key = config_hash(
        {
            "builder": asdict(cfg),
            "task": task.code,
            "split": split,
            "root": str(Path(coco_root).resolve()),
            "annotations_mtime": annotation_file.stat().st_mtime,
        }
    )
    target = Path(cache_root) / f"tri-class-{task.code}-{split}-{key}"
    if not is_complete(target):
        coco = coco or load_coco(annotation_file)
        images, masks = _build(coco, images_dir, task, split, cfg)
        with atomic_directory(target) as scratch:
            np.savez(scratch / "data.npz", images=images, masks=np.packbits(masks, axis=-1))
            (scratch / "meta.json").write_text(
                json.dumps({"task": task.code, "split": split, "n": len(images), "config": asdict(cfg)})
            )
    return load_tri_class(target, task.code, split)


def load_tri_class(path: Path, task: str, split: str) -> TriClassData:
    try:
        with np.load(path / "data.npz") as data:
            images = torch.from_numpy(data["images"])
            masks = torch.from_numpy(np.unpackbits(data["masks"], axis=-1).astype(bool))
    except (OSError, ValueError, KeyError) as exc:
        raise DatasetError(
            f"corrupt dataset cache: {path} ({exc.__class__.__name__}); delete it to rebuild"
        ) from exc
    return TriClassData(task, split, images, masks[..., : images.shape[-1]])
