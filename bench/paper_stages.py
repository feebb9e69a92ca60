"""Per-stage time of `suite single --profile paper`, measured for a few hundred steps and extrapolated.

Each stage (teacher, MIKE transfer from one teacher, pixel-wise baseline, downstream decoder) runs the same
training functions as the suite's stages, at the profile's widths and batch size, on a task of the
profile's size (random images: time does not depend on their content). Each runs twice, `--warmup` steps
and `--warmup + --steps` steps; the difference gives seconds per step, the rest is the stage's fixed cost
(setup, compilation, embedding, evaluation). The suite's time is then, per stage, runs × (fixed + paper
steps × seconds per step), one run at a time; dataset builds are timed at `--instances` per class and
scaled linearly to the profile's count. Execution variants: fp32 (the default), bf16 autocast,
torch.compile.

    uv run python bench/paper_stages.py                          # the GPU where there is one
    uv run python bench/paper_stages.py --steps 200 --variants fp32 bf16 compile
"""

from __future__ import annotations

import argparse
import dataclasses
import platform
import tempfile
import time
from collections import Counter
from pathlib import Path

import torch
from mike_throughput import fake_task  # bench/ is on the path when a bench script runs

from mike.data.synthetic_coco import generate_synthetic_coco
from mike.data.tasks import get_task
from mike.data.tri_class import build_tri_class, coco_paths, load_coco
from mike.models.autoencoder import Autoencoder
from mike.models.segmenter import Segmenter
from mike.profiles import Profile, get_profile
from mike.schedules import make_schedule
from mike.training.downstream import embed_sets, train_decoder
from mike.training.specs import ExecutionSpec
from mike.training.teacher import evaluate_segmenter, train_teacher
from mike.training.transfer import QuerySet, train_mike, train_pixelwise
from suites.registry import SuitePaths, build_plan

STAGES = ("teacher", "transfer", "baseline", "downstream")
VARIANTS = {
    "fp32": ExecutionSpec(),
    "bf16": ExecutionSpec(precision="bf16"),
    "compile": ExecutionSpec(compile=True),
}


def run_stage(stage: str, profile: Profile, steps: int, data, device: str, execution: ExecutionSpec) -> float:
    """Wall seconds of one run of `stage` with `steps` optimiser steps, synchronised at the end."""
    train, test, teacher = data
    torch.manual_seed(0)
    started = time.perf_counter()
    spec = dataclasses.replace(getattr(profile, stage), steps=steps, checkpoint_every=0)
    if stage == "teacher":
        model = Segmenter(profile.segmenter_widths, profile.segmenter_expand)
        train_teacher(model, train, spec, 0, device=device, execution=execution)
        evaluate_segmenter(model, test.images, test.masks, device=device)
    elif stage == "transfer":
        ae = Autoencoder(profile.autoencoder_widths, profile.autoencoder_expand)
        schedule = make_schedule("uniform", [18], spec.steps, spec.warmup_steps)
        query = QuerySet.from_tasks([train])
        train_mike(ae, [teacher], query, spec, schedule, 0, device=device, execution=execution)
    elif stage == "baseline":
        ae = Autoencoder(profile.autoencoder_widths, profile.autoencoder_expand)
        train_pixelwise(ae, train.images, spec, 0, device=device, execution=execution)
    else:  # as benchmark.stages.downstream_stage: embed once, train a fresh decoder, evaluate
        ae = Autoencoder(profile.autoencoder_widths, profile.autoencoder_expand)
        decoder = ae.downstream_decoder("fresh", out_channels=train.masks.shape[1])
        z_train, z_test = embed_sets(ae.encoder, [train.images, test.images], device=device)
        train_decoder(decoder, z_train, train.masks, spec, 0, device=device, execution=execution)
        evaluate_segmenter(decoder, z_test, test.masks, device=device)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return time.perf_counter() - started


def dataset_seconds(profile: Profile, instances: int) -> tuple[float, float]:
    """Seconds to generate synthetic COCO at `instances` per class and build one task's two splits, and the
    factor that scales it to the profile's instance count."""
    full = profile.synthetic
    val = max(1, instances * full.val_instances_per_class // full.train_instances_per_class)
    synthetic = dataclasses.replace(full, train_instances_per_class=instances, val_instances_per_class=val)
    with tempfile.TemporaryDirectory() as cache:
        started = time.perf_counter()
        root = generate_synthetic_coco(synthetic, Path(cache))
        for split in ("train2017", "val2017"):
            coco = load_coco(coco_paths(root, split)[0])
            build_tri_class(root, get_task("BTS"), split, profile.tri_class, Path(cache), coco)
        seconds = time.perf_counter() - started
    return seconds, profile.synthetic.train_instances_per_class / instances


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--profile", default="paper")
    parser.add_argument("--steps", type=int, default=200, help="timed steps per stage (the difference)")
    parser.add_argument("--warmup", type=int, default=20, help="steps of the shorter run")
    parser.add_argument("--variants", nargs="+", default=["fp32", "bf16"], choices=list(VARIANTS))
    parser.add_argument("--instances", type=int, default=100, help="per class, dataset timing (0: skip)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args()
    profile = get_profile(args.profile)
    classes, crops = 3, profile.tri_class.augmentations_per_instance
    n_train = classes * profile.synthetic.train_instances_per_class * crops
    n_test = classes * profile.synthetic.val_instances_per_class * crops
    where = torch.cuda.get_device_name() if args.device.startswith("cuda") else platform.processor() or "cpu"
    print(
        f"# per-stage time, profile {args.profile} widths, task of {n_train} / {n_test} images, "
        f"{args.steps} timed steps; device {args.device} ({where}), torch {torch.__version__}",
        flush=True,
    )
    teacher = Segmenter(profile.segmenter_widths, profile.segmenter_expand).freeze()
    data = (fake_task(n_train, 0), fake_task(n_test, 1), teacher)
    plan = build_plan("single", profile, None, SuitePaths())  # the suite's own runs, one seed
    counts = Counter(p.spec.stage for p in plan)
    tasks = counts["dataset"] // 2  # a train and a test split per task
    data_total = 0.0
    if args.instances:
        data_s, scale = dataset_seconds(profile, args.instances)
        data_total = data_s * scale * tasks  # one task's splits × tasks (generation is shared: upper bound)
        print(
            f"dataset: {data_s:.1f} s at {args.instances} instances per class → ×{scale:.0f} "
            f"×{tasks} tasks ≈ {data_total / 60:.1f} min (upper bound)",
            flush=True,
        )
    print("\nvariant  stage       s/step   fixed s  paper steps  runs  suite h")
    for variant in args.variants:
        execution = VARIANTS[variant]
        total = data_total
        for stage in STAGES:
            try:
                run_stage(stage, profile, args.warmup, data, args.device, execution)  # cold start, untimed
                short = run_stage(stage, profile, args.warmup, data, args.device, execution)
                long = run_stage(stage, profile, args.warmup + args.steps, data, args.device, execution)
            except Exception as exc:  # e.g. no compiler for torch.compile: the other variants still count
                print(f"{variant:7s}  {stage:10s} failed: {type(exc).__name__}: {str(exc).splitlines()[0]}")
                total = float("nan")
                continue
            per_step = max(long - short, 0.0) / args.steps
            fixed = max(short - args.warmup * per_step, 0.0)
            paper_steps = getattr(profile, stage).steps
            hours = counts[stage] * (fixed + paper_steps * per_step) / 3600
            total += hours * 3600
            print(
                f"{variant:7s}  {stage:10s} {per_step:8.4f} {fixed:9.2f} {paper_steps:12d} "
                f"{counts[stage]:5d} {hours:8.2f}",
                flush=True,
            )
        hours = total / 3600
        print(f"{variant:7s}  suite single --profile {args.profile}, one run at a time: ≈ {hours:.1f} h\n")


if __name__ == "__main__":
    main()
