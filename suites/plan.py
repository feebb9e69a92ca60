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


def autoencoder_model(
    profile: Profile, embedding_channels: int = 2, decoder_factor: float = 1.0, decoder_blocks: int = 0
) -> dict:
    """The autoencoder's config: the profile's widths, and Section 5's variants only where they differ
    from the paper's topology (so the paper's runs keep their config hashes and are shared)."""
    model = {"widths": list(profile.autoencoder_widths), "expand": profile.autoencoder_expand}
    if embedding_channels != 2:
        model["embedding_channels"] = embedding_channels
    # MBConv blocks round their channels to multiples of 8 (torchvision), so the widths are rounded here
    decoder_widths = [max(8, 8 * round(w * decoder_factor / 8)) for w in profile.autoencoder_widths]
    if decoder_widths != list(profile.autoencoder_widths):
        model["decoder_widths"] = decoder_widths
    if decoder_blocks:
        model["decoder_blocks"] = decoder_blocks
    return model


def _variant(model: dict) -> str:
    """What a label says about a model variant ('' for the paper's topology)."""
    parts = [f"{model['embedding_channels']}×8×8" if "embedding_channels" in model else ""]
    parts.append(
        f"decoder {'-'.join(map(str, model['decoder_widths']))}" if "decoder_widths" in model else ""
    )
    parts.append(f"+{model['decoder_blocks']} decoder blocks" if "decoder_blocks" in model else "")
    return "".join(f" {p}" for p in parts if p)


def _teacher_names(teachers: list[Planned]) -> str:
    tasks = [t.spec.config["task"] for t in teachers]
    return "+".join(tasks) if len(tasks) < 4 else f"{len(tasks)} teachers"


def transfer_run(
    profile: Profile,
    teachers: list[Planned],
    schedule: str,
    seed: int,
    data: dict,
    model: dict | None = None,
) -> Planned:
    model = model or autoencoder_model(profile)
    config = {
        **_trained(profile, "transfer", seed, data),
        "tasks": [t.spec.config["task"] for t in teachers],
        "schedule": schedule,
        "routing": profile.suites.routing,
        "teachers": [t.spec.hash for t in teachers],
        "model": model,
        "train": asdict(profile.transfer),
    }
    label = f"MIKE {_teacher_names(teachers)}{_variant(model)} {schedule} seed {seed}"
    return Planned(RunSpec("transfer", label, config), deps=tuple(teachers))


def sequential_run(
    profile: Profile,
    teacher: Planned,
    previous: Planned | None,
    step: int,
    seed: int,
    data: dict,
    ewc_lambda: float,
) -> Planned:
    """Step `step` of sequential transfer (Section 5): the teacher of `suites`' sequence at that place,
    continuing from the previous step's autoencoder; ewc_lambda = 0 is naive, > 0 elastic weight
    consolidation."""
    sequence = list(profile.section5.sequential_tasks)
    config = {
        **_trained(profile, "sequential", seed, data),
        "tasks": [teacher.spec.config["task"]],
        "sequence": sequence,
        "step": step,
        "teachers": [teacher.spec.hash],
        "previous": previous.spec.hash if previous else None,
        "ewc_lambda": ewc_lambda,
        "model": autoencoder_model(profile),
        "train": asdict(profile.transfer),
    }
    if ewc_lambda > 0:
        config["fisher_samples"] = profile.section5.fisher_samples
    kind = f"EWC λ={ewc_lambda:g}" if ewc_lambda > 0 else "naive"
    label = f"sequential {kind} {step + 1}/{len(sequence)} {config['tasks'][0]} seed {seed}"
    deps = (teacher, previous) if previous else (teacher,)
    return Planned(RunSpec("sequential", label, config), deps=deps)


def transfer_cost_run(profile: Profile, teachers: list[Planned], seed: int, data: dict) -> Planned:
    """Time and memory of a transfer step from these teachers (Section 5's scaling): a few steps, timed
    alone on the machine; no model is kept."""
    config = {
        **_trained(profile, "transfer_cost", seed, data),
        "tasks": [t.spec.config["task"] for t in teachers],
        "routing": profile.suites.routing,
        "teachers": [t.spec.hash for t in teachers],
        "model": autoencoder_model(profile),
        "batch_size": profile.transfer.batch_size,
        "steps": profile.section5.cost_steps,
    }
    label = f"step cost {_teacher_names(teachers)} seed {seed}"
    return Planned(RunSpec("transfer_cost", label, config), deps=tuple(teachers))


def baseline_run(profile: Profile, tasks: list[str], seed: int, data: dict) -> Planned:
    config = {
        **_trained(profile, "baseline", seed, data),
        "tasks": tasks,
        "model": autoencoder_model(profile),
        "train": asdict(profile.baseline),
    }
    label = f"pixel-wise {'+'.join(tasks) if len(tasks) < 4 else f'{len(tasks)} tasks'} seed {seed}"
    return Planned(RunSpec("baseline", label, config))


def downstream_run(
    profile: Profile, encoder: Planned, teacher: Planned, seed: int, data: dict, decoder: str | None = None
) -> Planned:
    """decoder: 'fresh' or 'finetune' (default: the profile's `suites.downstream_decoder`)."""
    task = teacher.spec.config["task"]
    decoder = decoder or profile.suites.downstream_decoder
    config = {
        **_trained(profile, "downstream", seed, data),
        "task": task,
        "decoder": decoder,
        "encoder": encoder.spec.hash,
        "encoder_label": encoder.spec.label,
        "teacher": teacher.spec.hash,
        "train": asdict(profile.downstream),
    }
    shown = "" if decoder == profile.suites.downstream_decoder else f" ({decoder} decoder)"
    label = f"{encoder.spec.label} → {task}{shown}"
    return Planned(RunSpec("downstream", label, config), deps=(encoder, teacher))


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
