"""Building blocks of suites: planned runs (a RunSpec and the runs it depends on).

Suites name stages (`RunSpec.stage`); the runner maps each name to its code. Planning therefore imports
neither torch nor any stage, and a suite's plan is ready in a fraction of a second.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from mike.data.cache import config_hash
from mike.profiles import Profile
from mike.training.specs import ExecutionSpec

TRAIN_SPLIT, TEST_SPLIT = "train2017", "val2017"


@dataclass(frozen=True)
class RunSpec:
    """A stage to run: its full config (JSON-able) and a short label for people."""

    stage: str
    label: str
    config: dict = field(hash=False)

    @property
    def hash(self) -> str:
        return config_hash(self.config)


@dataclass(frozen=True)
class Planned:
    spec: RunSpec
    deps: tuple[Planned, ...] = ()  # runs that must have COMPLETED first


def data_config(profile: Profile, coco_root: Path | None) -> dict:
    """Where the images come from: a real COCO root, or the synthetic default drawn from the profile."""
    return {
        "coco_root": str(Path(coco_root).resolve()) if coco_root else None,
        "synthetic": None if coco_root else asdict(profile.synthetic),
        "tri_class": asdict(profile.tri_class),
    }


def _base(profile: Profile, stage: str, seed: int, data: dict) -> dict:
    return {"stage": stage, "profile": profile.name, "seed": seed, "data": data}


def _trained(profile: Profile, stage: str, seed: int, data: dict) -> dict:
    """The base of a training stage's config; bf16 / compile appear only when on (they change results),
    so runs made before those options existed keep their config hashes."""
    config = _base(profile, stage, seed, data)
    if profile.execution != ExecutionSpec():
        config["execution"] = asdict(profile.execution)
    return config


def dataset_run(profile: Profile, task: str, split: str, data: dict) -> Planned:
    config = {**_base(profile, "dataset", 0, data), "task": task, "split": split}
    return Planned(RunSpec("dataset", f"dataset {task} {split}", config))


def teacher_run(profile: Profile, task: str, seed: int, data: dict) -> Planned:
    config = {
        **_trained(profile, "teacher", seed, data),
        "task": task,
        "model": {"widths": list(profile.segmenter_widths), "expand": profile.segmenter_expand},
        "train": asdict(profile.teacher),
    }
    deps = tuple(dataset_run(profile, task, split, data) for split in (TRAIN_SPLIT, TEST_SPLIT))
    return Planned(RunSpec("teacher", f"teacher {task} seed {seed}", config), deps=deps)


def _autoencoder(profile: Profile) -> dict:
    return {"widths": list(profile.autoencoder_widths), "expand": profile.autoencoder_expand}


def transfer_run(profile: Profile, teachers: list[Planned], schedule: str, seed: int, data: dict) -> Planned:
    tasks = [t.spec.config["task"] for t in teachers]
    config = {
        **_trained(profile, "transfer", seed, data),
        "tasks": tasks,
        "schedule": schedule,
        "routing": profile.suites.routing,
        "teachers": [t.spec.hash for t in teachers],
        "model": _autoencoder(profile),
        "train": asdict(profile.transfer),
    }
    label = f"MIKE {'+'.join(tasks) if len(tasks) < 4 else f'{len(tasks)} teachers'} {schedule} seed {seed}"
    return Planned(RunSpec("transfer", label, config), deps=tuple(teachers))


def baseline_run(profile: Profile, tasks: list[str], seed: int, data: dict) -> Planned:
    config = {
        **_trained(profile, "baseline", seed, data),
        "tasks": tasks,
        "model": _autoencoder(profile),
        "train": asdict(profile.baseline),
    }
    label = f"pixel-wise {'+'.join(tasks) if len(tasks) < 4 else f'{len(tasks)} tasks'} seed {seed}"
    return Planned(RunSpec("baseline", label, config))


def downstream_run(profile: Profile, encoder: Planned, teacher: Planned, seed: int, data: dict) -> Planned:
    task = teacher.spec.config["task"]
    config = {
        **_trained(profile, "downstream", seed, data),
        "task": task,
        "decoder": profile.suites.downstream_decoder,
        "encoder": encoder.spec.hash,
        "encoder_label": encoder.spec.label,
        "teacher": teacher.spec.hash,
        "train": asdict(profile.downstream),
    }
    return Planned(RunSpec("downstream", f"{encoder.spec.label} → {task}", config), deps=(encoder, teacher))


def flatten(roots: Iterable[Planned]) -> list[Planned]:
    """Every run needed, dependencies first, each config once (suites share runs with the same hash)."""
    order: list[Planned] = []
    seen: set[str] = set()

    def visit(p: Planned) -> None:
        if p.spec.hash in seen:
            return
        for d in p.deps:
            visit(d)
        seen.add(p.spec.hash)
        order.append(p)

    for root in roots:
        visit(root)
    return order
