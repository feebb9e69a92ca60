"""Throughput and peak memory of teacher training and MIKE transfer with paper-size networks.

Prints images/s and peak memory for teacher training and for MIKE transfer with 1, 3 and 11 teachers:
routed (each sample only through its own teachers, a loop over them), stacked (routed, the teachers as one
vmapped ensemble) and naive (every teacher sees every sample), with the ratios side by side. Each
configuration runs in its own subprocess so its peak memory is its own.

    uv run python bench/mike_throughput.py                 # CPU here, or the GPU where there is one
    uv run python bench/mike_throughput.py --steps 10 --batch-size 64 --profile paper
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
import time

import torch

from mike.models.autoencoder import Autoencoder
from mike.models.segmenter import Segmenter
from mike.profiles import get_profile
from mike.schedules import make_schedule
from mike.training.loop import TrainSpec
from mike.training.teacher import train_teacher
from mike.training.transfer import QuerySet, train_mike

ROUTINGS = ("routed", "naive", "stacked")


def configs(counts: list[int], routings: list[str]) -> list[str]:
    return ["teacher"] + [f"transfer-{n}-{r}" for n in counts for r in routings]


def fake_task(n: int, seed: int):
    from mike.data.tri_class import TriClassData

    g = torch.Generator().manual_seed(seed)
    images = torch.randint(0, 256, (n, 3, 64, 64), dtype=torch.uint8, generator=g)
    return TriClassData("bench", "train", images, torch.rand(n, 3, 64, 64, generator=g) > 0.7)


def measure_one(config: str, profile_name: str, steps: int, warmup: int, batch: int, device: str) -> dict:
    """Time `steps` optimiser steps after `warmup` untimed ones; returns images/s and peak memory."""
    profile = get_profile(profile_name)
    torch.manual_seed(0)
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    spec = TrainSpec(steps=warmup + steps, batch_size=batch, cosine=False)
    times: list[float] = []

    def clock(*_):  # a forward pre-hook: each step starts with one forward of the trained model
        if device == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter())

    if config == "teacher":
        model = Segmenter(profile.segmenter_widths, profile.segmenter_expand)
        model.register_forward_pre_hook(clock)
        train_teacher(model, fake_task(batch * 4, 0), spec, 0, device=device)
    else:
        _, n, routing = config.split("-")
        n = int(n)
        teachers = [Segmenter(profile.segmenter_widths, profile.segmenter_expand) for _ in range(n)]
        # Equal shares of every teacher's data in the query set, as in the `eleven` suite.
        query = QuerySet.from_tasks([fake_task(max(batch * 4 // n, 4), k) for k in range(n)])
        ae = Autoencoder(profile.autoencoder_widths, profile.autoencoder_expand)
        ae.register_forward_pre_hook(clock)
        schedule = make_schedule("uniform", [18] * n, spec.steps)
        train_mike(ae, teachers, query, spec, schedule, 0, routing=routing, device=device)
    clock()  # the end of the last step
    elapsed = times[-1] - times[warmup]
    timed_steps = steps
    peak = (
        torch.cuda.max_memory_allocated()
        if device == "cuda"
        else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    )
    return {"config": config, "images_per_s": timed_steps * batch / elapsed, "peak_bytes": peak}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--profile", default="paper", help="widths to use (default: paper)")
    parser.add_argument("--steps", type=int, default=4, help="timed steps per configuration")
    parser.add_argument("--warmup", type=int, default=1, help="untimed steps first")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument(
        "--teachers", type=int, nargs="+", default=[1, 3, 11], help="teacher counts (default: 1 3 11)"
    )
    parser.add_argument("--routings", nargs="+", default=list(ROUTINGS), choices=ROUTINGS)
    parser.add_argument("--only", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.only:
        print(
            json.dumps(
                measure_one(args.only, args.profile, args.steps, args.warmup, args.batch_size, args.device)
            )
        )
        return
    where = (
        torch.cuda.get_device_name()
        if args.device == "cuda"
        else f"{platform.processor() or 'cpu'}, {torch.get_num_threads()} threads"
    )
    print(
        f"# MIKE throughput, profile {args.profile} widths, batch {args.batch_size}, "
        f"{args.steps} timed steps, "
        f"device {args.device} ({where}), torch {torch.__version__}"
    )
    results = {}
    counts = sorted(set(args.teachers) | {1})  # 1 teacher: the ratios' base
    routings = ["routed", *(r for r in args.routings if r != "routed")]  # routed 1 teacher: the base
    for config in configs(counts, routings):
        cmd = [
            sys.executable,
            __file__,
            "--only",
            config,
            "--profile",
            args.profile,
            "--steps",
            str(args.steps),
            "--warmup",
            str(args.warmup),
            "--batch-size",
            str(args.batch_size),
            "--device",
            args.device,
        ]
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode != 0:  # one configuration failing (e.g. out of memory) leaves the others standing
            print(f"{config:22s} failed: {' | '.join(done.stderr.strip().splitlines()[-3:])}", flush=True)
            continue
        results[config] = json.loads(done.stdout.strip().splitlines()[-1])
        r = results[config]
        print(
            f"{config:22s} {r['images_per_s']:9.1f} images/s   peak {r['peak_bytes'] / 2**20:8.0f} MiB",
            flush=True,
        )
    if "transfer-1-routed" not in results or "teacher" not in results:
        print("\nno ratios: the teacher or the 1-teacher routed transfer (their base) failed")
        return
    base = results["transfer-1-routed"]["images_per_s"]
    header = "  ".join(f"{r:>8s} img/s, x, MiB" for r in routings)
    print(f"\nteachers  {header}   (x: time per image vs 1 teacher routed)")
    for n in counts:
        cells = []
        for k in routings:
            x = results.get(f"transfer-{n}-{k}")
            cells.append(
                f"{x['images_per_s']:9.1f} {base / x['images_per_s']:5.2f}x {x['peak_bytes'] / 2**20:6.0f}"
                if x
                else f"{'failed':>27s}"
            )
        print(f"{n:8d}  {'  '.join(cells)}")
    t = results["teacher"]["images_per_s"]
    print(
        f"\nteacher training: {t:.1f} images/s; "
        f"1-teacher transfer costs {t / base:.2f}x a teacher step per image"
    )


if __name__ == "__main__":
    main()
