"""The substitute loss network, used when ImageNet AlexNet weights are not on the machine.

AlexNet's first two conv layers (exactly the loss network's layers) are trained by the suite to classify
the 33 object classes of the project's synthetic COCO (their shapes, textures and colours, one object on a
cluttered background per image). It is a stand-in for ImageNet features, not an equivalent: results made
with it carry `loss_network: substitute` and the report says so.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from mike.data.class_styles import CLASS_STYLES, hsv_to_rgb, render_instance
from mike.featpred.loss_network import LossNetwork, alexnet_trunk
from mike.featpred.specs import SubstituteConfig
from mike.training.loop import StepCallback, fit

CLASS_NAMES = tuple(sorted(CLASS_STYLES))


def _scene(label: int, size: int, rng: np.random.Generator) -> np.ndarray:
    yy, xx = np.meshgrid(np.linspace(0, 1, size), np.linspace(0, 1, size), indexing="ij")
    a = hsv_to_rgb(rng.uniform(), rng.uniform(0, 0.8), rng.uniform(0.2, 1.0))
    b = hsv_to_rgb(rng.uniform(), rng.uniform(0, 0.8), rng.uniform(0.2, 1.0))
    t = (xx * rng.uniform(-1, 1) + yy * rng.uniform(-1, 1))[..., None]
    t = (t - t.min()) / (np.ptp(t) + 1e-6)
    canvas = a * (1 - t) + b * t
    side = int(rng.integers(size * 3 // 8, size * 7 // 8))
    patch, mask, _ = render_instance(CLASS_STYLES[CLASS_NAMES[label]], side, rng)
    x, y = (int(v) for v in rng.integers(0, size - side + 1, 2))
    region = canvas[y : y + side, x : x + side]
    region[mask] = patch[mask]
    canvas = np.clip(canvas + rng.normal(0, 0.03, canvas.shape), 0, 1)
    return (canvas * 255).astype(np.uint8).transpose(2, 0, 1)


def shape_classes(per_class: int, size: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """per_class images of each of the 33 classes, shuffled: uint8 N×3×S×S and int64 labels."""
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(len(CLASS_NAMES)), per_class)
    rng.shuffle(labels)
    images = np.stack([_scene(int(k), size, rng) for k in labels])
    return torch.from_numpy(images), torch.from_numpy(labels)


class TrunkClassifier(nn.Module):
    """The loss network's layers plus a small head (max-pool, global average, linear)."""

    def __init__(self, classes: int):
        super().__init__()
        self.trunk = alexnet_trunk()
        self.head = nn.Sequential(
            nn.MaxPool2d(3, 2), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(192, classes)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.trunk(x))


def train_substitute(
    cfg: SubstituteConfig, on_step: StepCallback | None = None, checkpointer=None
) -> tuple[LossNetwork, float]:
    """Train the substitute; returns the loss network and its validation accuracy on held-out images."""
    images, labels = shape_classes(cfg.images_per_class, cfg.image_size, cfg.seed)
    val_images, val_labels = shape_classes(cfg.validation_per_class, cfg.image_size, cfg.seed + 1)
    torch.manual_seed(cfg.seed)
    model = TrunkClassifier(len(CLASS_NAMES))

    def step_loss(step, idx):
        logits = model(images[idx].float() / 255)
        return F.cross_entropy(logits, labels[idx]), {}

    fit(model, step_loss, len(images), cfg.train, cfg.seed, on_step, checkpointer)
    model.eval()
    with torch.no_grad():
        accuracy = (model(val_images.float() / 255).argmax(1) == val_labels).float().mean().item()
    return LossNetwork(model.trunk, "substitute"), accuracy
