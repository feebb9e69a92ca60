"""Dataset build configs as plain data (no torch, no image libraries): profiles and config checks load
them in a fraction of a second. The builders live beside them (synthetic_coco, tri_class, lunar_lander)."""

from __future__ import annotations

from dataclasses import dataclass

from mike.training.specs import at_least, positive

MODEL_INPUT = 64  # the segmenters and autoencoders are built for 64×64 crops (the paper's input size)
SYNTHETIC_COCO_VERSION = 1  # bump when the drawing changes, so old caches are not reused
TRI_CLASS_VERSION = 1  # bump when the crop builder changes
LUNAR_LANDER_VERSION = 1  # bump when the generator changes


@dataclass(frozen=True)
class SyntheticCocoConfig:
    """How much synthetic COCO to draw and how."""

    seed: int = 0
    train_instances_per_class: int = 300  # annotated instances of every class in train2017
    val_instances_per_class: int = 60  # ... and in val2017
    image_width: int = 160
    image_height: int = 120
    min_object: int = 30  # object size range in pixels (square canvas side)
    max_object: int = 72
    clutter: tuple[int, int] = (6, 14)  # unannotated background shapes per scene
    occluder_probability: float = 0.35  # chance of an unannotated shape in front of the objects
    noise_std: float = 0.03
    jpeg_quality: int = 90
    min_visible_area: int = 60  # visible pixels below which an occluded instance gets no annotation
    version: int = SYNTHETIC_COCO_VERSION

    def __post_init__(self):
        at_least(1, train_instances_per_class=self.train_instances_per_class, min_object=self.min_object)
        at_least(1, val_instances_per_class=self.val_instances_per_class)
        if self.max_object < self.min_object or self.max_object > min(self.image_width, self.image_height):
            raise ValueError(
                f"objects must fit the image: min_object {self.min_object} ≤ max_object {self.max_object} "
                f"≤ {min(self.image_width, self.image_height)} pixels"
            )


@dataclass(frozen=True)
class TriClassConfig:
    """How crops are cut from COCO instances."""

    image_size: int = 64
    context: float = 1.3  # crop side = context × longest bbox side, before zoom
    zoom: tuple[float, float] = (0.8, 1.25)  # multiplies the crop side (zoom out / in)
    shift: float = 0.15  # max shift of the crop centre, as a fraction of its side
    mirror_probability: float = 0.5
    augmentations_per_instance: int = 2  # crops drawn from each instance
    max_instances_per_class: int = 2000  # cap, for COCO's very frequent classes (person: 260k)
    min_instance_area: float = 100.0  # COCO pixels; smaller instances are skipped
    seed: int = 0
    version: int = TRI_CLASS_VERSION

    def __post_init__(self):
        if self.image_size != MODEL_INPUT:  # other sizes would build, then fail inside the models
            raise ValueError(
                f"image_size must be {MODEL_INPUT} (the models take 64×64 crops), not {self.image_size}"
            )
        at_least(1, augmentations_per_instance=self.augmentations_per_instance)
        at_least(1, max_instances_per_class=self.max_instances_per_class)
        positive(context=self.context, zoom_min=self.zoom[0])
        if self.zoom[1] < self.zoom[0]:
            raise ValueError(f"zoom must be (low, high) with low ≤ high, not {self.zoom}")
        if not 0 <= self.mirror_probability <= 1:
            raise ValueError(f"mirror_probability must lie in [0, 1], not {self.mirror_probability}")


@dataclass(frozen=True)
class LunarLanderConfig:
    rollouts: int = 700  # per collection (the paper: 700)
    steps: int = 150  # per rollout (the paper: 150)
    image_size: int = 64
    label_offset: int = 0  # 0: the label of the frame shown; 1: the original's one-step-ahead label
    environment: str = "LunarLander-v3"
    seed: int = 0
    version: int = LUNAR_LANDER_VERSION

    def __post_init__(self):
        at_least(1, rollouts=self.rollouts, steps=self.steps)
        # the image coders take 64+16n pixels (mike.featpred.coders.grid_size); refuse others before any work
        if self.image_size < MODEL_INPUT or (self.image_size - MODEL_INPUT) % 16:
            raise ValueError(f"image_size must be 64+16n (64, 80, 96, ...), not {self.image_size}")
        if self.label_offset not in (0, 1):
            raise ValueError(f"label_offset must be 0 or 1, not {self.label_offset}")
