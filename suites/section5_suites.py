"""The experiments MIKE's Section 5 proposes, as suites (bottleneck, decoder, scaling, sequential).

Each reuses the paper's stages with one thing varied; runs identical to a paper suite's (the 2-channel
embedding, the mirrored decoder, N ≤ 11 teachers) are the same configs and are shared with it. Downstream
runs that only these suites make carry `study` in their config, so that the paper's figures never mix
them in.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from mike.data.tasks import TASK_CODES
from mike.profiles import Profile
from suites.mike_suites import progressive_length, teacher_seed_of, teachers_of
from suites.plan import (
    Planned,
    autoencoder_model,
    data_config,
    downstream_run,
    flatten,
    sequential_run,
    teacher_run,
    transfer_cost_run,
    transfer_run,
)

SECTION5_SUITES = ("bottleneck", "decoder", "scaling", "sequential")
REPLICA_SEED_STRIDE = 1000  # replica r of a task's teacher trains with seed 1000·r + the teachers' seed


def _studied(planned: Planned, study: str, label: str | None = None) -> Planned:
    """The same run, marked as this study's (its own config), optionally under its own label."""
    config = {**planned.spec.config, "study": study}
    return Planned(type(planned.spec)(planned.spec.stage, label or planned.spec.label, config), planned.deps)


def _downstream(profile, encoder, teachers, seed, data, study: str, decoder: str | None = None):
    return [
        _studied(downstream_run(profile, encoder, teachers[task], seed, data, decoder), study)
        for task in TASK_CODES
    ]


def bottleneck(profile: Profile, seeds: list[int], coco_root: Path | None) -> list[Planned]:
    """ "Systematically vary the size of the embedding space": the progressive suite's two schedules on its
    teacher, at each embedding size (channels × 8×8), at its length; each encoder evaluated on 11 tasks."""
    data, roots = data_config(profile, coco_root), []
    long = progressive_length(profile)
    for seed in seeds:
        teachers = teachers_of(profile, seed, data)
        teacher = teachers[profile.suites.progressive_task]
        for channels in profile.section5.embedding_channels:
            model = autoencoder_model(profile, embedding_channels=channels)
            for schedule in ("uniform", "progressive"):
                encoder = transfer_run(long, [teacher], schedule, seed, data, model)
                roots += [encoder, *_downstream(profile, encoder, teachers, seed, data, "bottleneck")]
    return flatten(roots)


def decoder_variants(profile: Profile) -> list[tuple[float, int]]:
    """(width factor, extra blocks) of each decoder studied; (1.0, 0) is the paper's mirror."""
    s = profile.section5
    variants = [(f, 0) for f in s.decoder_width_factors] + [(1.0, b) for b in s.decoder_extra_blocks]
    return list(dict.fromkeys([(1.0, 0), *variants]))


def decoder(profile: Profile, seeds: list[int], coco_root: Path | None) -> list[Planned]:
    """ "Vary the capacity and topology of the decoder": MIKE (all-layers uniform) from the progressive
    suite's teacher with each decoder variant; downstream on 11 tasks through a fresh mirror of the encoder
    (the same downstream network for every variant) and through the transferred decoder, retrained."""
    data, roots = data_config(profile, coco_root), []
    models = [
        autoencoder_model(profile, decoder_factor=f, decoder_blocks=b) for f, b in decoder_variants(profile)
    ]
    unique = list({json.dumps(m, sort_keys=True): m for m in models}.values())  # widths round to 8s
    for seed in seeds:
        teachers = teachers_of(profile, seed, data)
        teacher = teachers[profile.suites.progressive_task]
        for model in unique:
            encoder = transfer_run(profile, [teacher], "uniform", seed, data, model)
            roots.append(encoder)
            for mode in ("fresh", "finetune"):
                roots += _downstream(profile, encoder, teachers, seed, data, "decoder", mode)
    return flatten(roots)


def scaling_tasks(profile: Profile, n: int) -> list[tuple[str, int]]:
    """(task, replica) of each of N teachers: the three-teacher suite's tasks first (N ≤ 3), then the other
    tasks; N = 11 is the eleven suite's teachers in its order; beyond 11, replicas in the same order."""
    if n <= 3:
        return [(t, 0) for t in profile.suites.three_tasks[:n]]
    if n < len(TASK_CODES):
        rest = [t for t in TASK_CODES if t not in profile.suites.three_tasks]
        return [(t, 0) for t in [*profile.suites.three_tasks, *rest][:n]]
    return [(TASK_CODES[k % len(TASK_CODES)], k // len(TASK_CODES)) for k in range(n)]


def scaling(profile: Profile, seeds: list[int], coco_root: Path | None) -> list[Planned]:
    """Transfer from N = 1, 3, 11, 22, 44, ... teachers at once (routed): the time and memory of a step,
    each measured alone, and the downstream quality of each encoder on the 11 tasks."""
    data, roots = data_config(profile, coco_root), []
    for seed in seeds:
        teachers = teachers_of(profile, seed, data)
        base = teacher_seed_of(profile, seed)
        for n in profile.section5.scaling_teachers:
            chosen = [
                teachers[task]
                if replica == 0
                else teacher_run(profile, task, REPLICA_SEED_STRIDE * replica + base, data)
                for task, replica in scaling_tasks(profile, n)
            ]
            encoder = transfer_run(profile, chosen, "uniform", seed, data)
            roots += [transfer_cost_run(profile, chosen, seed, data), encoder]
            # N ≤ 11: the paper suites' encoders and downstream runs, shared; beyond: this study's own
            study = "scaling" if n > len(TASK_CODES) else None
            roots += (
                _downstream(profile, encoder, teachers, seed, data, study)
                if study
                else [downstream_run(profile, encoder, teachers[t], seed, data) for t in TASK_CODES]
            )
    return flatten(roots)


def sequential(profile: Profile, seeds: list[int], coco_root: Path | None) -> list[Planned]:
    """Knowledge transfer from the teachers one after another (`section5.sequential_tasks`), naive and with
    elastic weight consolidation, against the joint transfer from all of them: downstream on every task
    after every step (the forgetting matrix)."""
    data, roots = data_config(profile, coco_root), []
    tasks = list(profile.section5.sequential_tasks)
    for seed in seeds:
        teachers = teachers_of(profile, seed, data)
        for ewc_lambda in (0.0, *profile.section5.ewc_lambdas):
            previous = None
            for step, task in enumerate(tasks):
                previous = sequential_run(profile, teachers[task], previous, step, seed, data, ewc_lambda)
                roots += [previous, *_downstream(profile, previous, teachers, seed, data, "sequential")]
        joint = transfer_run(profile, [teachers[t] for t in tasks], "uniform", seed, data)
        # the eleven or three suite's encoder when the sequence is theirs (shared), else this study's own
        paper = tasks in (list(TASK_CODES), list(profile.suites.three_tasks))
        roots += [joint]
        roots += (
            [downstream_run(profile, joint, teachers[t], seed, data) for t in TASK_CODES]
            if paper
            else _downstream(profile, joint, teachers, seed, data, "sequential")
        )
        # A second joint reference as long as the whole sequence: the sequence trains `transfer.steps` per
        # teacher, so only this one compares at equal batches.
        # (Study-marked: a transfer of the paper's topology but not of its length stays out of its figures.)
        long = transfer_run(sequence_length(profile), [teachers[t] for t in tasks], "uniform", seed, data)
        label = long.spec.label.replace(" seed ", f" {long.spec.config['train']['steps']} batches seed ")
        joint_long = _studied(long, "sequential", label)
        roots += [joint_long, *_downstream(profile, joint_long, teachers, seed, data, "sequential")]
    return flatten(roots)


def sequence_length(profile: Profile) -> Profile:
    """The profile whose transfer is as long as the whole sequential transfer (every step's batches)."""
    steps = len(profile.section5.sequential_tasks) * profile.transfer.steps
    return replace(profile, transfer=replace(profile.transfer, steps=steps))


SUITES = {"bottleneck": bottleneck, "decoder": decoder, "scaling": scaling, "sequential": sequential}
