"""Run profiles: every width, data size and training length in one place, as data.

- smoke: seconds per run, for tests. Numbers mean nothing.
- small: a reduced-scale CPU reproduction (the whole `single` suite in about 11 minutes on 2 cores):
  the paper's layer counts, input size and embedding shape, but narrow layers, fewer crops, fewer steps.
- cpu: `small`'s models and data with lengths and seeds chosen by a power analysis of pilot runs, to decide
  what can be decided in 90 minutes of `suite all` on 2 cores (CPU.design says how).
- paper: the paper's sizes: EfficientNet-B0 widths, ~20,000 transfer batches (Figures 5–6). Meant for a GPU.

Every profile keeps the paper's topology (18-layer segmenter with 16 MBConv blocks; 3×3 conv + 8 MBConv +
pointwise encoder giving 2×8×8; mirrored decoder; 64×64 input): only widths and lengths change.
"""

from __future__ import annotations

import ast
import dataclasses
import typing
from dataclasses import dataclass, field, replace

from mike.data.specs import LunarLanderConfig, SyntheticCocoConfig, TriClassConfig
from mike.errors import UserError
from mike.featpred.specs import SubstituteConfig
from mike.suite_options import LossesOptions, Section5Options, SuiteOptions
from mike.training.specs import EpochSpec, ExecutionSpec, TrainSpec

TEACHER_LAYERS = 18  # the teacher's layers (mike.models.segmenter), here for planning without torch


class ConfigError(UserError, ValueError):
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
    # MIKE knowledge transfer. warmup_steps > 0 adds pixel-wise pre-training steps first: an ablation, off
    # in every profile, because the paper's experiments use only all-layers uniform and last-layer
    # progressive weights (Section 3.3; Figure 5: "equal for all layers throughout training").
    transfer: TrainSpec
    baseline: TrainSpec  # pixel-wise autoencoder
    downstream: TrainSpec  # decoder retrained as a segmenter on frozen embeddings
    suites: SuiteOptions = SuiteOptions()
    section5: Section5Options = Section5Options()
    losses: LossesOptions = LossesOptions()
    execution: ExecutionSpec = ExecutionSpec()  # bf16 / torch.compile: off (they change the numbers)
    seeds: int = 1  # MIKE suites' repeats when --seeds is not given (the paper reports one run)
    reduced: dict[str, str] = field(default_factory=dict)  # what differs from the papers, for the report
    # how the sizes were chosen (a power analysis from pilot runs), for the report's Methods section
    design: dict[str, str] = field(default_factory=dict)

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
        if len(args) == 2 and args[1] is Ellipsis:  # tuple[int, ...]: one or more values of one type
            if not isinstance(value, list | tuple) or not value:
                raise ConfigError(f"{key}: expected a non-empty list, got {value!r}")
            return tuple(_coerce(v, args[0], key) for v in value)
        if not isinstance(value, list | tuple) or len(value) != len(args):
            raise ConfigError(f"{key}: expected a list of {len(args)} values, got {value!r}")
        return tuple(_coerce(v, a, key) for v, a in zip(value, args, strict=True))
    raise ConfigError(f"{key}: cannot be overridden")


def _override(obj: object, path: list[str], value: object, key: str) -> object:
    hints = typing.get_type_hints(type(obj))
    names = {f.name for f in dataclasses.fields(obj)}
    head = path[0]
    if head not in names or head in ("name", "reduced", "design"):
        raise ConfigError(f"unknown config key {key!r}")
    if len(path) == 1:
        if dataclasses.is_dataclass(getattr(obj, head)):
            raise ConfigError(f"{key}: is a section; set one of its fields, e.g. {key}.<field>=...")
        try:
            return replace(obj, **{head: _coerce(value, hints[head], key)})
        except ConfigError:
            raise
        except ValueError as exc:  # a field's own check (__post_init__)
            raise ConfigError(f"{key}: {exc}") from None
    child = getattr(obj, head)
    if not dataclasses.is_dataclass(child):
        raise ConfigError(f"unknown config key {key!r}")
    return replace(obj, **{head: _override(child, path[1:], value, key)})


# Choices every profile makes where the MIKE paper gives no value; listed in every report.
SHARED_CHOICES = {
    "COCO crops": "at most 2,000 instances per class and instances under 100 COCO pixels skipped; "
    "augmented crops shifted ±15%, zoomed 0.8–1.25, mirrored: the paper names the augmentations, "
    "not their amounts",
    "optimiser": "Adam with cosine decay to 10% of the learning rate (unstated in the MIKE paper)",
}
# What the `paper` profile chooses where the papers give no value.
PAPER_CHOICES = {
    **SHARED_CHOICES,
    "widths": "segmenter channels 16/24/40/80 and autoencoder 32/16/24/40/80 with MBConv expansion 4, "
    "EfficientNet-B0's first stages; the paper gives layer counts and the 2×8×8 embedding, no widths",
    "crops per instance": "4 augmented crops per instance (unstated)",
    "training lengths": "20,000 batches of 64 for teachers, transfers and baselines (Figures 5–6 span "
    "~20,000 batches); 5,000 for each downstream decoder; the paper gives no batch size or other lengths",
    "repeats": "MIKE suites run 1 seed by default, as the paper reports one run; the verdict rules need "
    "3 seeds, so a default `paper` run draws the paper's figures but decides no MIKE comparison: "
    "`--seeds 3` (or more) lets them be judged. The feature-prediction study runs 4 seeds, as the paper's",
}

SMOKE = Profile(
    name="smoke",
    synthetic=SyntheticCocoConfig(train_instances_per_class=12, val_instances_per_class=6),
    tri_class=TriClassConfig(augmentations_per_instance=1),
    segmenter_widths=(8, 8, 8, 8),
    segmenter_expand=1,
    autoencoder_widths=(8, 8, 8, 8, 8),
    autoencoder_expand=1,
    teacher=TrainSpec(steps=4, batch_size=16),
    transfer=TrainSpec(steps=4, batch_size=16),
    baseline=TrainSpec(steps=4, batch_size=16),
    downstream=TrainSpec(steps=4, batch_size=16),
    section5=Section5Options(
        embedding_channels=(2, 8),
        scaling_teachers=(1, 11, 22),
        cost_steps=2,
        sequential_tasks=("PHB", "DCH", "CTB"),
        ewc_lambdas=(100.0,),
        fisher_samples=4,
    ),
    losses=LossesOptions(
        lunar=LunarLanderConfig(rollouts=2, steps=20),
        autoencoder=EpochSpec(max_epochs=2, patience=1, batch_size=16),
        probe=EpochSpec(max_epochs=3, patience=2, batch_size=16),
        photo_limits=(64, 32, 32),
        seeds=1,
        substitute=SubstituteConfig(
            images_per_class=2, validation_per_class=1, train=TrainSpec(steps=3, batch_size=16)
        ),
    ),
    reduced={
        "scale": "smoke test only: a few steps on a few images; results are meaningless",
        **SHARED_CHOICES,
    },
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
    transfer=TrainSpec(steps=300, batch_size=32, lr=2e-3, checkpoint_every=100),
    baseline=TrainSpec(steps=300, batch_size=32, lr=2e-3, checkpoint_every=100),
    downstream=TrainSpec(steps=80, batch_size=32, lr=3e-3),
    losses=LossesOptions(
        lunar=LunarLanderConfig(rollouts=16, steps=100),
        autoencoder=EpochSpec(max_epochs=6, patience=3, batch_size=64),
        probe=EpochSpec(max_epochs=150, patience=25, batch_size=128),
        photo_limits=(2000, 1000, 1000),
        seeds=1,
        substitute=SubstituteConfig(
            images_per_class=200, validation_per_class=20, train=TrainSpec(steps=800, batch_size=64, lr=2e-3)
        ),
    ),
    reduced={
        "widths": "layers about half to a third as wide as EfficientNet-B0",
        "data": "about 1,800 training crops per task (300 instances per class × 2 augmentations)",
        "steps": "300 teacher, 300 transfer, 300 baseline, 80 downstream batches of 32",
        "losses data": "LunarLander: 16 rollouts × 100 steps per collection (the paper: 700 × 150)",
        "losses training": "autoencoders at most 6 epochs, patience 3, batch 64 (the paper: 50, 10, 512); "
        "probes at most 150 epochs, batch 128 (the paper: 500, batch 512)",
        "losses repeats": "1 seed by default (the paper repeats the study 4 times); --seeds sets it",
        **SHARED_CHOICES,
    },
)

# `cpu`: `small`'s models and data, sized by a power analysis of pilot runs of `small` (seeds 0–2 of three,
# eleven and progressive; seed 0 of single; 2 seeds of losses; bench/power.py) to give the rules the seeds
# they need within 90 minutes of `suite all` on 2 CPU cores. Fixed before its verdicts were seen.
CPU = replace(
    SMALL,
    name="cpu",
    transfer=TrainSpec(steps=200, batch_size=32, lr=2e-3, checkpoint_every=100),
    baseline=TrainSpec(steps=200, batch_size=32, lr=2e-3, checkpoint_every=100),
    downstream=TrainSpec(steps=50, batch_size=32, lr=3e-3),
    suites=SuiteOptions(teacher_seed=0, progressive_steps_per_layer=200),
    # the three suite's tasks, so the joint reference is its encoder (see design["sequential"])
    section5=Section5Options(sequential_tasks=("PHB", "DCH", "CTB")),
    losses=replace(
        SMALL.losses,
        z_values=(64,),
        seeds=5,
        autoencoder=replace(SMALL.losses.autoencoder, batch_size=512),  # the paper's: time per epoch
    ),
    seeds=3,
    reduced={
        **SMALL.reduced,
        "steps": "300 teacher (one set, shared by every seed as in the paper), 200 transfer, 200 baseline, "
        "50 downstream batches of 32; progressive: 200 batches per teacher layer (3,600 in all, both "
        "schedules; the paper ~1,100 per layer, ~20,000 in all)",
        "losses z": "z = 64 only (the paper: 64, 128 and 256)",
        "losses training": "autoencoders at most 6 epochs, patience 3, batch 512 as the paper (the paper: "
        "50 epochs, patience 10); probes at most 150 epochs, batch 128 (the paper: 500, batch 512)",
        "losses repeats": "5 seeds (the paper: 4), for the time-per-epoch claims (see design)",
        "sequential": "Section 5's sequential transfer runs through the three suite's teachers PHB → DCH → "
        "CTB (the issue and the paper's 'one after another' mean all 11)",
    },
    design={
        "budget": "`suite all --profile cpu` (3 seeds; `losses` 5) within 90 minutes on 2 CPU cores (2 "
        "single-threaded workers, "
        "≈ 10,800 run-seconds). One seed of everything at `small` costs ≈ 5,700 run-seconds (teachers "
        "457, single transfers 867, baselines 383, downstream 1,648, three 279, eleven 310, progressive "
        "116, losses 1,629): 3 seeds would take ≈ 2.5 h, so lengths were cut where the pilots showed "
        "room, and teachers are trained once (the paper has one set; repeats vary the autoencoders).",
        "seeds": "3 for the MIKE suites, the rules' minimum and the most that fit; 5 for `losses` (below). "
        "The pilots' seed-level spreads say what 3 seeds can decide; each claim's table row prints the "
        "seeds its smallest effect needs.",
        "teachers": "pilot IoU 0.67–0.78 against 0.06–0.10 for the constant predictor (33 teachers): the "
        "teacher precondition holds with a wide margin at 300 steps, so teachers keep `small`'s length.",
        "Figure 3": "pilot MIKE minus pixel-wise, normalised IoU: per-comparison means 0.11–0.30, seed-level "
        "sd 0.01–0.18 (median 0.09); 9 of 121 single-teacher comparisons under the smallest effect 0.01 "
        "in seed 0. An 11-task average (sd 0.03–0.11) at effect ≥ 0.11 is detectable at 3 seeds (80% "
        "power) where its sd is ≤ 0.05: each of the 11 tests is at α (intersection-union), t > 2.92 at 2 "
        "degrees of freedom; every one of 121 comparisons needs its weakest comparisons significant too, "
        "far more seeds than fit. Transfer and baseline lengths (300 → "
        "200) and downstream (80 → 50) were cut to buy the third seed: the effect is 10–30× the smallest "
        "that matters, the spread is what limits. Measured after the first `cpu` run "
        "(bench/downstream_noise.py, the PHB and CTB encoders of seed 0, 4 decoder seeds): the downstream "
        "decoder is 22% of the seed-level variance (sd 0.036 of 0.077), so averaging decoders per encoder "
        "cannot make the 121 comparisons decidable (≈ 300 seeds each even with 8); only encoder seeds can.",
        "Figure 4": "pilot three minus eleven, 11-task average: −0.027 ± 0.029 (sd over 3 seeds), 9 seeds "
        "for 80% power at the observed effect and 55 at the smallest effect 0.01: not decidable within "
        "90 minutes; the table says how many seeds it needs.",
        "Figures 5–6": "pilot instability D (progressive minus uniform, log units) at 16 steps per layer: "
        "0.0004 [−0.008, 0.009]; at 50 per layer: sd 0.021 over 3 seeds, both far below the margin 0.05, "
        "so the verdict is decided at either length. The first `cpu` profile took 24 per layer (432 "
        "batches, ≈ 170 run-seconds per seed) and its verdict was fails (D −0.009 [−0.012, −0.006]). A "
        "check of that choice at 200 per layer (seed 0, `mike-bench suite progressive --profile cpu with "
        "suites.progressive_steps_per_layer=200`) gave D +0.031 and E +0.040: the hand-over dynamics "
        "change with the length of a segment, so a verdict at 24 per layer says something about short "
        "segments, not about the paper's ~1,100. 200 per layer (3,600 batches, ≈ 400 run-seconds per run) "
        "is the longest that fits the 90 minutes with 3 seeds; chosen for faithfulness to the paper's "
        "length, with the seed-0 check seen (not its 3-seed verdict). The rule's rolling median then "
        "grew from 5 steps to a tenth of a segment (21): with 5, D's noise at 200 steps per segment was "
        "as large as the seed-0 check (the same seed on a CPU without AVX-512 read −0.009). Section 5's "
        "bottleneck suite runs at this length too (outside the 90 minutes).",
        "losses": "pilot embeddings vs the constant guess (gain in distance, mean over z): at `small` only "
        "I-I-PS clears 0.1 (0.22, 1 seed); with 24 rollouts and 12 epochs still only I-I-PS (0.35, 95% "
        "lower bound 0.31, 2 seeds), at 3× the cost. No size that fits 90 minutes makes the embeddings "
        "informative, so probe-metric claims stay inconclusive (precondition), and `losses` runs z = 64 "
        "only, for 3 seeds of the time-per-epoch claims (pilot sd of the time ratio 0.13: 4 seeds at "
        "the observed effect). The first `cpu` run (3 seeds, 2026-12-05, a 2-core EPYC with AVX-512) "
        "then read FP / PS at 0.521 [90% CI 0.490, 0.551], seed-level sd 0.018, inconclusive against the "
        "bounds 0.5–0.7, and asked for 7 seeds at that effect; a `losses` seed costs ≈ 5 minutes of "
        "wall (its autoencoders alone on the machine), so 7 would take ≈ 88 of the 90 minutes, with no "
        "margin for a slower CPU; 5 (≈ 78 minutes in all, MDE ≈ 0.025 at that sd) leave one. Measured in "
        "one go (2026-12-06, 71 min 41 s): FP / PS 0.505 [0.492, 0.518], on the band's lower edge, so "
        "inconclusive at any seed count that fits (50 at that effect); `losses` alone had read 0.522. "
        "The autoencoders are timed at the paper's batch of 512 (at 64 the FP decoder's output layer "
        "dominates on a CPU and the I-F-FP / I-I-PS ratio is ≈ 1.2 instead of ≈ 0.6: "
        "bench/fp_epoch_time.py), each autoencoder alone on the machine (the pool waits for it).",
        "sequential": "(Section 5, outside the 90 minutes) every step of a sequence is a whole transfer "
        "(200 batches, ≈ 60 s alone) followed by downstream on all 11 tasks (≈ 55 s): all 11 teachers × "
        "4 chains (naive and 3 λ) × 3 seeds is ≈ 2 h on 2 cores, on top of ≈ 2 h for the other Section 5 "
        "suites. Three teachers (≈ 35 min) still give forgetting after one and after two later teachers, "
        "and their joint transfer is the three suite's encoder, shared.",
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
    transfer=TrainSpec(steps=20_000, batch_size=64, checkpoint_every=1000),
    baseline=TrainSpec(steps=20_000, batch_size=64, checkpoint_every=1000),
    downstream=TrainSpec(steps=5_000, batch_size=64),
    losses=LossesOptions(
        substitute=SubstituteConfig(
            images_per_class=1000, validation_per_class=50, train=TrainSpec(steps=5000, batch_size=128)
        ),
    ),
    reduced=PAPER_CHOICES,
)

PROFILES: dict[str, Profile] = {p.name: p for p in (SMOKE, SMALL, CPU, PAPER)}


def get_profile(name: str) -> Profile:
    if name not in PROFILES:
        raise ConfigError(f"unknown profile {name!r}; choose one of {', '.join(PROFILES)}")
    return PROFILES[name]
