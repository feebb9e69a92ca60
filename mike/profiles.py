"""Run profiles: every width, data size and training length in one place, as data.

- smoke: seconds per run, for tests. Numbers mean nothing.
- small: a reduced-scale CPU reproduction (the whole `single` suite in about half an hour on 2 cores):
  the paper's layer counts, input size and embedding shape, but narrow layers, fewer crops, fewer steps.
- paper: the paper's sizes: EfficientNet-B0 widths, ~20,000 transfer batches (Figures 5–6). Meant for a GPU.

Every profile keeps the paper's topology (18-layer segmenter with 16 MBConv blocks; 3×3 conv + 8 MBConv +
pointwise encoder giving 2×8×8; mirrored decoder; 64×64 input): only widths and lengths change.
"""

from __future__ import annotations

import ast
import dataclasses
import typing
from dataclasses import dataclass, field, replace

from mike.data.synthetic_coco import SyntheticCocoConfig
from mike.data.tri_class import TriClassConfig
from mike.training.loop import TrainSpec


@dataclass(frozen=True)
class SuiteOptions:
    """Choices the paper leaves open, per suite."""

    # Figure 4's three teachers are marked only by green borders in Figure 2; this choice is ours.
    three_tasks: tuple[str, str, str] = ("PHB", "DCH", "CTB")
    progressive_task: str = "BTS"  # Figures 5–6 use the bench/traffic-light/stop-sign teacher


class ConfigError(ValueError):
    """An override names an unknown key or gives a value of the wrong type."""


@dataclass(frozen=True)
class Profile:
    name: str
    synthetic: SyntheticCocoConfig  # the embedded default dataset (used when no COCO root is given)
    tri_class: TriClassConfig  # how 64×64 crops are cut from COCO instances
    segmenter_widths: tuple[int, int, int, int]  # channels at 64, 32, 16, 8 px
    segmenter_expand: int  # MBConv expansion ratio of the teachers
    autoencoder_widths: tuple[int, int, int, int, int]  # stem, then 32, 16, 8, 8 px stages
    autoencoder_expand: int
    teacher: TrainSpec  # teacher pretraining
    transfer: TrainSpec  # MIKE knowledge transfer (warmup_steps: pixel-wise pre-training, Section 3.3)
    baseline: TrainSpec  # pixel-wise autoencoder
    downstream: TrainSpec  # decoder retrained as a segmenter on frozen embeddings
    suites: SuiteOptions = SuiteOptions()
    reduced: dict[str, str] = field(default_factory=dict)  # what differs from the paper, for the report

    def with_overrides(self, overrides: dict[str, object]) -> Profile:
        """Apply dotted overrides ('teacher.steps': 100); unknown keys and wrong types are refused."""
        profile = self
        for key, value in overrides.items():
            profile = _override(profile, key.split("."), value, key)
        return profile


def parse_override(text: str) -> tuple[str, object]:
    """`key=value` with the value read as a Python literal (as Sacred does), else kept as a string."""
    if "=" not in text:
        raise ConfigError(f"override {text!r} is not key=value")
    key, raw = text.split("=", 1)
    try:
        return key.strip(), ast.literal_eval(raw)
    except (ValueError, SyntaxError):
        return key.strip(), raw


def _coerce(value: object, hint: object, key: str) -> object:
    origin = typing.get_origin(hint)
    if hint in (int, float, str, bool):
        if hint is float and isinstance(value, int) and not isinstance(value, bool):
            return float(value)
        if type(value) is not hint:
            raise ConfigError(f"{key}: expected {hint.__name__}, got {type(value).__name__} {value!r}")
        return value
    if origin is tuple:
        args = typing.get_args(hint)
        if not isinstance(value, list | tuple) or len(value) != len(args):
            raise ConfigError(f"{key}: expected a list of {len(args)} values, got {value!r}")
        return tuple(_coerce(v, a, key) for v, a in zip(value, args, strict=True))
    raise ConfigError(f"{key}: cannot be overridden")


def _override(obj: object, path: list[str], value: object, key: str) -> object:
    hints = typing.get_type_hints(type(obj))
    names = {f.name for f in dataclasses.fields(obj)}
    head = path[0]
    if head not in names or head in ("name", "reduced"):
        raise ConfigError(f"unknown config key {key!r}")
    if len(path) == 1:
        if dataclasses.is_dataclass(getattr(obj, head)):
            raise ConfigError(f"{key}: is a section; set one of its fields, e.g. {key}.<field>=...")
        return replace(obj, **{head: _coerce(value, hints[head], key)})
    child = getattr(obj, head)
    if not dataclasses.is_dataclass(child):
        raise ConfigError(f"unknown config key {key!r}")
    return replace(obj, **{head: _override(child, path[1:], value, key)})


SMOKE = Profile(
    name="smoke",
    synthetic=SyntheticCocoConfig(train_instances_per_class=12, val_instances_per_class=6),
    tri_class=TriClassConfig(augmentations_per_instance=1),
    segmenter_widths=(8, 8, 8, 8),
    segmenter_expand=1,
    autoencoder_widths=(8, 8, 8, 8, 8),
    autoencoder_expand=1,
    teacher=TrainSpec(steps=4, batch_size=16),
    transfer=TrainSpec(steps=4, batch_size=16, warmup_steps=1),
    baseline=TrainSpec(steps=4, batch_size=16),
    downstream=TrainSpec(steps=4, batch_size=16),
    reduced={"scale": "smoke test only: a few steps on a few images; results are meaningless"},
)

SMALL = Profile(
    name="small",
    synthetic=SyntheticCocoConfig(train_instances_per_class=300, val_instances_per_class=80),
    tri_class=TriClassConfig(augmentations_per_instance=2),
    segmenter_widths=(8, 16, 24, 32),
    segmenter_expand=1,
    autoencoder_widths=(8, 8, 16, 16, 24),
    autoencoder_expand=1,
    teacher=TrainSpec(steps=300, batch_size=32, lr=3e-3, checkpoint_every=100),
    transfer=TrainSpec(steps=300, batch_size=32, lr=2e-3, warmup_steps=30, checkpoint_every=100),
    baseline=TrainSpec(steps=300, batch_size=32, lr=2e-3, checkpoint_every=100),
    downstream=TrainSpec(steps=80, batch_size=32, lr=3e-3),
    reduced={
        "widths": "layers about half to a third as wide as EfficientNet-B0",
        "data": "about 1,800 training crops per task (300 instances per class × 2 augmentations)",
        "steps": "300 teacher, 300 transfer, 300 baseline, 80 downstream batches of 32",
    },
)

PAPER = Profile(
    name="paper",
    synthetic=SyntheticCocoConfig(train_instances_per_class=2000, val_instances_per_class=300),
    tri_class=TriClassConfig(augmentations_per_instance=4),
    segmenter_widths=(16, 24, 40, 80),
    segmenter_expand=4,
    autoencoder_widths=(32, 16, 24, 40, 80),
    autoencoder_expand=4,
    teacher=TrainSpec(steps=20_000, batch_size=64, checkpoint_every=1000),
    transfer=TrainSpec(steps=20_000, batch_size=64, warmup_steps=500, checkpoint_every=1000),
    baseline=TrainSpec(steps=20_000, batch_size=64, checkpoint_every=1000),
    downstream=TrainSpec(steps=5_000, batch_size=64),
    reduced={},
)

PROFILES: dict[str, Profile] = {p.name: p for p in (SMOKE, SMALL, PAPER)}


def get_profile(name: str) -> Profile:
    if name not in PROFILES:
        raise ConfigError(f"unknown profile {name!r}; choose one of {', '.join(PROFILES)}")
    return PROFILES[name]
