"""Feature-prediction configs as plain data (no torch), for profiles and fast config checks."""

from __future__ import annotations

from dataclasses import dataclass

from mike.training.specs import TrainSpec, at_least


@dataclass(frozen=True)
class SubstituteConfig:
    images_per_class: int = 200
    validation_per_class: int = 20
    image_size: int = 64
    train: TrainSpec = TrainSpec(steps=600, batch_size=64, lr=1e-3)
    seed: int = 0

    def __post_init__(self):
        at_least(1, images_per_class=self.images_per_class, validation_per_class=self.validation_per_class)
