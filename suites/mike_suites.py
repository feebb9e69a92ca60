"""The MIKE paper's experiments as suites (Section 4.2, Figures 3–6)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from mike.data.tasks import TASK_CODES
from mike.profiles import TEACHER_LAYERS, Profile
from suites.plan import Planned, baseline_run, data_config, downstream_run, flatten, teacher_run, transfer_run


def _evaluate_everywhere(profile, encoders, teachers, seed, data) -> list[Planned]:
    """Every encoder downstream on all 11 tasks, one encoder at a time (its embeddings stay cached)."""
    return [
        downstream_run(profile, enc, teachers[task], seed, data) for enc in encoders for task in TASK_CODES
    ]


def teacher_seed_of(profile: Profile, seed: int) -> int:
    """The seed of the teachers an autoencoder of this seed learns from (suites.teacher_seed)."""
    return seed if profile.suites.teacher_seed < 0 else profile.suites.teacher_seed


def teachers_of(profile, seed, data) -> dict[str, Planned]:
    return {task: teacher_run(profile, task, teacher_seed_of(profile, seed), data) for task in TASK_CODES}


def single(profile: Profile, seeds: list[int], coco_root: Path | None) -> list[Planned]:
    """Figure 3: one MIKE autoencoder per teacher (all-layers uniform) and its pixel-wise baseline, each
    evaluated on all 11 tasks."""
    data, roots = data_config(profile, coco_root), []
    for seed in seeds:
        teachers = teachers_of(profile, seed, data)
        for task in TASK_CODES:
            encoders = [
                transfer_run(profile, [teachers[task]], "uniform", seed, data),
                baseline_run(profile, [task], seed, data),
            ]
            roots += _evaluate_everywhere(profile, encoders, teachers, seed, data)
    return flatten(roots)


def _multi(profile: Profile, tasks: list[str], seeds: list[int], coco_root: Path | None) -> list[Planned]:
    data, roots = data_config(profile, coco_root), []
    for seed in seeds:
        teachers = teachers_of(profile, seed, data)
        encoders = [
            transfer_run(profile, [teachers[t] for t in tasks], "uniform", seed, data),
            baseline_run(profile, tasks, seed, data),
        ]
        roots += _evaluate_everywhere(profile, encoders, teachers, seed, data)
    return flatten(roots)


def three(profile: Profile, seeds: list[int], coco_root: Path | None) -> list[Planned]:
    """Figure 4: one autoencoder from three teachers at once (suites.three_tasks), and its baseline."""
    return _multi(profile, list(profile.suites.three_tasks), seeds, coco_root)


def eleven(profile: Profile, seeds: list[int], coco_root: Path | None) -> list[Planned]:
    """Figure 4: one autoencoder from all 11 teachers, and its baseline on their union."""
    return _multi(profile, list(TASK_CODES), seeds, coco_root)


def progressive_length(profile: Profile) -> Profile:
    """The profile with the transfer length of Figures 5–6: `suites.progressive_steps_per_layer` batches per
    teacher layer (both schedules, so that they compare on the same steps), else the transfer's own."""
    per_layer = profile.suites.progressive_steps_per_layer
    if not per_layer:
        return profile
    return replace(profile, transfer=replace(profile.transfer, steps=per_layer * TEACHER_LAYERS))


def progressive(profile: Profile, seeds: list[int], coco_root: Path | None) -> list[Planned]:
    """Figures 5–6: the BTS teacher, all-layers uniform vs last-layer progressive, per-layer loss per step."""
    data, roots = data_config(profile, coco_root), []
    long = progressive_length(profile)
    for seed in seeds:
        teacher = teacher_run(profile, profile.suites.progressive_task, teacher_seed_of(profile, seed), data)
        roots += [
            transfer_run(long, [teacher], schedule, seed, data) for schedule in ("uniform", "progressive")
        ]
    return flatten(roots)


SUITES = {"single": single, "three": three, "eleven": eleven, "progressive": progressive}
