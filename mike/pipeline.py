"""`mike-pipeline`: the MIKE single-teacher experiment end to end, in one process, without the run store.

For each chosen task: build its dataset (synthetic COCO by default, or a real COCO root), pretrain its
teacher, train a MIKE autoencoder (all-layers uniform) and a pixel-wise baseline on the teacher's data,
then evaluate every encoder downstream on every chosen task, normalised by that task's teacher IoU.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

from mike.data.synthetic_coco import generate_synthetic_coco
from mike.data.tasks import TASK_CODES, get_task
from mike.data.tri_class import DatasetError, build_tri_class, coco_paths, load_coco
from mike.models.autoencoder import Autoencoder
from mike.models.segmenter import Segmenter
from mike.profiles import ConfigError, Profile, get_profile, parse_override
from mike.schedules import make_schedule
from mike.training.downstream import downstream_iou
from mike.training.teacher import evaluate_segmenter, train_teacher
from mike.training.transfer import QuerySet, train_mike, train_pixelwise

TRAIN_SPLIT, TEST_SPLIT = "train2017", "val2017"


def build_datasets(profile: Profile, tasks: list[str], coco_root: Path | None, cache: Path, log):
    if coco_root is None:
        log(f"generating synthetic COCO (profile {profile.name}) ...")
        coco_root = generate_synthetic_coco(profile.synthetic, cache)
    datasets = {}
    for split in (TRAIN_SPLIT, TEST_SPLIT):
        annotation_file, _ = coco_paths(coco_root, split)
        coco = load_coco(annotation_file)  # once per split, shared by every task (COCO's JSON is large)
        for code in tasks:
            datasets[code, split] = build_tri_class(
                coco_root, get_task(code), split, profile.tri_class, cache, coco
            )
    return coco_root, datasets


def run(
    profile: Profile, tasks: list[str], coco_root: Path | None, cache: Path, seed: int, device: str, log=print
) -> dict:
    started = time.time()
    clock = lambda: f"[{time.time() - started:6.0f}s]"  # noqa: E731
    root, data = build_datasets(profile, tasks, coco_root, cache, lambda m: log(f"{clock()} {m}"))
    results: dict = {
        "profile": profile.name,
        "coco_root": str(root),
        "seed": seed,
        "teachers": {},
        "downstream": [],
    }
    teachers, teacher_iou = {}, {}
    for code in tasks:
        torch.manual_seed(seed)
        teacher = Segmenter(profile.segmenter_widths, profile.segmenter_expand)
        train_teacher(teacher, data[code, TRAIN_SPLIT], profile.teacher, seed, device=device)
        teacher_iou[code] = evaluate_segmenter(
            teacher, data[code, TEST_SPLIT].images, data[code, TEST_SPLIT].masks, device=device
        )
        teachers[code] = teacher.freeze()
        results["teachers"][code] = {"iou": teacher_iou[code], "train_size": len(data[code, TRAIN_SPLIT])}
        log(f"{clock()} teacher {code}: test IoU {teacher_iou[code]:.3f}")
    for code in tasks:
        query = QuerySet.from_tasks([data[code, TRAIN_SPLIT]])
        encoders = {}
        torch.manual_seed(seed)
        mike_ae = Autoencoder(profile.autoencoder_widths, profile.autoencoder_expand)
        schedule = make_schedule("uniform", [18], profile.transfer.steps, profile.transfer.warmup_steps)
        encoders["mike"] = train_mike(
            mike_ae, [teachers[code]], query, profile.transfer, schedule, seed, device=device
        )
        torch.manual_seed(seed)
        baseline = Autoencoder(profile.autoencoder_widths, profile.autoencoder_expand)
        encoders["pixelwise"] = train_pixelwise(baseline, query.images, profile.baseline, seed, device=device)
        log(f"{clock()} autoencoders from {code} trained")
        for kind, ae in encoders.items():
            for target in tasks:
                scores = downstream_iou(
                    ae,
                    data[target, TRAIN_SPLIT],
                    data[target, TEST_SPLIT],
                    profile.downstream,
                    seed,
                    teacher_iou[target],
                    device=device,
                )
                results["downstream"].append({"encoder": f"{kind}:{code}", "task": target, **scores})
                log(
                    f"{clock()}   {kind:9s} encoder of {code} on {target}: "
                    f"normalised IoU {scores['normalised_iou']:.3f}"
                )
    results["seconds"] = time.time() - started
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="mike-pipeline", description=__doc__.split("\n\n")[0])
    parser.add_argument("--profile", default="small", help="smoke, small or paper (default: small)")
    parser.add_argument(
        "--tasks", default="BTS", help=f"comma-separated task codes, or 'all' ({','.join(TASK_CODES)})"
    )
    parser.add_argument(
        "--coco-root", type=Path, default=None, help="a real COCO 2017 root (default: synthetic)"
    )
    parser.add_argument("--cache-dir", type=Path, default=Path(".mike-cache"), help="dataset cache folder")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--output", type=Path, default=None, help="write the results as JSON here")
    parser.add_argument(
        "overrides", nargs="*", metavar="key=value", help="profile overrides, e.g. teacher.steps=50"
    )
    args = parser.parse_args(argv)
    try:
        profile = get_profile(args.profile).with_overrides(dict(parse_override(o) for o in args.overrides))
        tasks = list(TASK_CODES) if args.tasks == "all" else [t.strip() for t in args.tasks.split(",")]
        for code in tasks:
            get_task(code)
        results = run(profile, tasks, args.coco_root, args.cache_dir, args.seed, args.device)
    except (ConfigError, DatasetError) as exc:
        print(f"mike-pipeline: error: {exc}", file=sys.stderr)
        return 2
    except KeyError as exc:
        print(f"mike-pipeline: error: {exc.args[0]}", file=sys.stderr)
        return 2
    if args.output:
        args.output.write_text(json.dumps(results, indent=1))
    print(json.dumps({k: results[k] for k in ("teachers", "seconds")}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
