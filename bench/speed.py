"""The speed goals of mike-bench, measured side by side: this tree against an earlier commit ("before").

    uv run python bench/speed.py                               # everything but the small suite (~15 min)
    uv run python bench/speed.py --only first-line bookkeeping --before 5b1925c
    uv run python bench/speed.py --only suite-small            # `suite single --profile small`, both trees

Sections (each prints a table, with "before → after" and the ratio where a comparison is made):
- first-line: seconds from starting a command to its first line of output (status, report, suite).
- bookkeeping: seconds per run spent outside the stage's own work (Sacred, MongoDB, artifacts), in a store
  that already holds 300 runs.
- optimizer: one Adam step, torch's default against the fused kernel the training loops use.
- teachers: MIKE transfer step time with 1, 11 and 100 teachers (routed loop and stacked ensemble), at
  1 and 2 torch threads, peak memory, and the largest N that fits in this machine's memory.
- routing: a MIKE transfer step from 1 and from 11 routed teachers as the transfer stage runs them (teachers
  folded, targets cached), paper widths, 1 thread, alternated in one process: before → after, and the ratio.
- downstream: 11 decoders of one encoder, trained one after another vs stacked with torch.func (vmap).
- stages: seconds per optimiser step of each `suite single` stage (teacher, transfer from one teacher,
  pixel-wise baseline, downstream decoder) at `small` widths, 1 thread, before → after.
- allocator: a downstream decoder's steps alone in a fresh process, with glibc's adaptive malloc thresholds
  and with the fixed ones every suite process sets (benchmark.allocator): seconds and page faults per step.
- targets: a one-teacher transfer step (`cpu` widths, 1 thread) with the teacher's targets on the query
  images computed every step vs once per run, and what computing them once costs.
- synthetic: seconds to draw `small`'s synthetic COCO (every suite's first run on a fresh workdir, which the
  others wait for), and whether both trees drew the same bytes.
- fold: milliseconds to make the BatchNorm-folded inference copy of a `small` teacher, encoder and decoder
  (every teacher run, transfer and downstream run makes some), before → after.
- grouped: the same layer of 11 models run one after another vs as one grouped convolution (how stacked
  models execute); below 1× means stacking loses on this CPU.
- suite-smoke / suite-small: wall time of `suite all --profile smoke` / `suite single --profile small`.

"Before" runs the same measurement on a git worktree of --before (default: the last commit before the
speed work), with this tree's virtual environment. Every measurement runs in its own process.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BEFORE = "5b1925c"  # the last commit before the speed work (issue 11)
SECTIONS = (
    "first-line",
    "bookkeeping",
    "optimizer",
    "teachers",
    "routing",
    "downstream",
    "stages",
    "allocator",
    "grouped",
    "targets",
    "fold",
    "synthetic",
    "suite-smoke",
    "suite-small",
)


def worktree(ref: str) -> Path:
    """A checkout of `ref` beside this tree (made once per commit, reused: named by the commit, so that a
    moving ref such as HEAD never finds an older checkout)."""
    commit = subprocess.run(
        ["git", "rev-parse", "--short=12", f"{ref}^{{commit}}"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    path = Path(tempfile.gettempdir()) / f"mike-bench-{commit}"
    if not (path / "benchmark").is_dir():
        subprocess.run(["git", "worktree", "add", "--detach", "-f", str(path), commit], cwd=ROOT, check=True)
    return path


def child(tree: Path, *args: str, threads: int | None = None, timeout: float = 3600) -> dict:
    """Run this file's probe in `tree` (its modules first on the path); returns the probe's JSON."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    if threads:
        env["OMP_NUM_THREADS"] = str(threads)
    out = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--probe", *args],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if out.returncode != 0:
        raise RuntimeError(f"probe {args} failed in {tree}:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def first_line(tree: Path, command: list[str]) -> float:
    """Seconds until the command prints its first line (stdout or stderr); the command is then stopped."""
    with tempfile.TemporaryDirectory() as work:
        started = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, "-m", "benchmark.cli", *command, "--workdir", work],
            cwd=tree,
            env={**os.environ, "PYTHONPATH": str(tree)},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        proc.stdout.readline()
        seconds = time.perf_counter() - started
        proc.kill()
        proc.wait()
    return seconds


def suite_wall(tree: Path, args: list[str]) -> float:
    with tempfile.TemporaryDirectory() as work:
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "benchmark.cli", "suite", *args, "--workdir", work],
            cwd=tree,
            env={**os.environ, "PYTHONPATH": str(tree)},
            check=True,
            capture_output=True,
        )
        return time.perf_counter() - started


def alternated(old: Path, new: Path, probe: str) -> tuple[dict, dict]:
    """A probe's figures on the old and the new tree, 1 thread, alternated twice with the faster of each
    kept: this VM's speed drifts by minutes."""
    runs = [child(tree, probe, threads=1) for tree in (old, new, old, new)]
    before = {k: min(runs[0][k], runs[2][k]) for k in runs[0]}
    after = {k: min(runs[1][k], runs[3][k]) for k in runs[1]}
    return before, after


def row(name: str, before: float | None, after: float, unit: str = "s") -> None:
    if before is None:
        print(f"  {name:44s} {'':>12s}   {after:10.3f} {unit}")
    else:
        print(f"  {name:44s} {before:10.3f} {unit} → {after:8.3f} {unit}   ({before / after:5.2f}× faster)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="+", choices=SECTIONS, default=[s for s in SECTIONS[:-1]])
    parser.add_argument("--before", default=BEFORE, help=f"git ref to compare with (default {BEFORE})")
    parser.add_argument("--profile", default="paper", help="widths for the teachers section")
    parser.add_argument("--probe", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.probe:
        from overhead_probes import PROBES as OVERHEAD  # beside this file (also when measuring another tree)
        from speed_probes import PROBES
        from stage_probes import PROBES as STAGES

        print(json.dumps({**PROBES, **OVERHEAD, **STAGES}[args.probe[0]](*args.probe[1:])))
        return
    old, new = worktree(args.before), ROOT
    print(f"# mike-bench speed: {platform.machine()}, {os.cpu_count()} CPUs; before = {args.before}")
    if "first-line" in args.only:
        print("first line of output (s), `python -m benchmark.cli`; `uv run` adds its own start-up")
        for command in (["status"], ["report"], ["suite", "single", "--profile", "smoke"]):
            before = min(first_line(old, command) for _ in range(2))
            after = min(first_line(new, command) for _ in range(2))
            row(" ".join(command), before, after)
    if "bookkeeping" in args.only:
        print(
            "bookkeeping per run (s): Sacred, MongoDB, artifacts of a run that logs 80 steps, 30 runs, "
            "in a store already holding 300 runs"
        )
        for kib, what in (("0", "no artifact (a downstream run)"), ("1024", "a 1 MiB model artifact")):
            before, after = child(old, "bookkeeping", kib), child(new, "bookkeeping", kib)
            row(what, before["per_run"], after["per_run"])
    if "optimizer" in args.only:
        result = child(new, "optimizer", threads=1)
        print("Adam, one step (s), 1 thread: torch's default (a tensor at a time) → the fused kernel (ours)")
        row("feature coder, 19 M parameters", result["coder_default"], result["coder_fused"])
        row("MIKE decoder, 60 small tensors", result["decoder_default"], result["decoder_fused"])
    if "teachers" in args.only:
        teachers_section(new, args.profile)
    if "routing" in args.only:
        before, after = alternated(old, new, "routed_steps")
        print("a MIKE transfer step as the transfer stage runs it (s), paper widths, batch 32, 1 thread")
        for name in after:
            row(name, before[name], after[name])
        ratios = [r["11 teachers"] / r["1 teacher"] for r in (before, after)]
        print(f"  11 teachers / 1 teacher: {ratios[0]:.2f} → {ratios[1]:.2f} (the goal: ≤ 1.2)")
    if "downstream" in args.only:
        result = child(new, "downstream", threads=2)
        print("11 downstream decoders of one encoder, one optimiser step each (s), small widths, batch 32")
        row("one after another (the suite's way)", None, result["loop"])
        row("stacked, torch.func vmap", None, result["vmap"])
        print(f"  stacked / one after another: {result['vmap'] / result['loop']:.2f}")
    if "stages" in args.only:
        before, after = alternated(old, new, "stage_steps")
        print(
            "one optimiser step of each stage of `suite single` (s), small widths, batch 32, 1 thread; "
            "'downstream fixed': a downstream run's embedding of 2,280 images and scoring of 480"
        )
        for stage in after:
            row(stage, before.get(stage), after[stage])
    if "allocator" in args.only:
        runs = [child(new, "decoder_alone", mode, threads=1) for mode in ("adaptive", "keep") * 2]
        adaptive = min((r for r in runs[::2]), key=lambda r: r["seconds"])
        kept = min((r for r in runs[1::2]), key=lambda r: r["seconds"])
        print(
            "a downstream decoder's step alone in a fresh process, 1 thread: "
            "glibc's adaptive → fixed malloc thresholds"
        )
        row("seconds per step", adaptive["seconds"], kept["seconds"])
        row("page faults per step", adaptive["faults"], max(kept["faults"], 1e-9), unit="")
    if "targets" in args.only:
        result = child(new, "target_cache", threads=1)
        step, setup = result["step"], result["setup"]
        print(
            f"a one-teacher transfer step (s), cpu widths, batch 32, 1 thread, {result['images']:,} query "
            "images: the teacher's targets every step → once per run"
        )
        row("step", step["every step"], step["once per run"])
        saved = step["every step"] - step["once per run"]
        once = setup["once per run"]
        print(f"  computing them once: {once:.1f} s, what {once / saved:.0f} steps save")
    if "fold" in args.only:
        before, after = alternated(old, new, "fold")
        print("the BatchNorm-folded inference copy of a `small` network (ms), 1 thread")
        if not before:
            print(f"  ({args.before} predates folding: no fold to compare with; try --before 75e4c55)")
        for name in after:
            row(name, before.get(name), after[name], unit="ms")
    if "synthetic" in args.only:
        from mike.data.synthetic_coco import drawing_digest

        with tempfile.TemporaryDirectory() as work:
            runs = [
                child(tree, "synthetic_coco", f"{work}/{k}", threads=1) for k, tree in enumerate((old, new))
            ]
            drawn = [drawing_digest(Path(r["root"])) for r in runs]
        print("drawing `small`'s synthetic COCO (s), one process each")
        row(f"{drawn[1][0]} files", runs[0]["seconds"], runs[1]["seconds"])
        print(f"  the same bytes (sha256 of every image and annotation file): {drawn[0] == drawn[1]}")
    if "grouped" in args.only:
        result = child(new, "grouped", threads=1)
        print(
            "11 models' convolution, forward + backward (s), 1 thread: one after another → one grouped conv"
        )
        for shape, r in result.items():
            row(shape, r["separate"], r["grouped"])
    if "suite-smoke" in args.only:
        print("`suite all --profile smoke`, wall clock (s), fresh store")
        smoke = ["all", "--profile", "smoke"]
        row("suite all --profile smoke", suite_wall(old, smoke), suite_wall(new, smoke))
    if "suite-small" in args.only:
        print("`suite single --profile small`, wall clock (s), fresh store")
        before = suite_wall(old, ["single", "--profile", "small"])
        row("suite single --profile small", before, suite_wall(new, ["single", "--profile", "small"]))


def teachers_section(tree: Path, profile: str) -> None:
    print(f"MIKE transfer step, {profile} widths, batch 32 (s per step; peak resident memory)")
    base = {}
    for threads in (1, 2):
        for n, routing in ((1, "routed"), (11, "routed"), (11, "stacked")):
            r = child(tree, "transfer", profile, str(n), routing, threads=threads)
            base.setdefault(threads, r["step"])
            print(
                f"  {threads} thread(s), {n:3d} teachers {routing:8s} {r['step']:8.3f} s/step "
                f"({r['step'] / base[threads]:4.2f}× 1 teacher)  peak {r['peak_mib']:7.0f} MiB"
            )
    small = child(tree, "transfer", profile, "11", "routed", threads=1)
    large = child(tree, "transfer", profile, "100", "routed", threads=1)
    per_teacher = max((large["peak_mib"] - small["peak_mib"]) / 89, 1e-3)
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**20
    fits = 11 + int((0.9 * total - small["peak_mib"]) / per_teacher)  # peak grows linearly with N
    print(
        f"  100 teachers, 1 thread: {large['step']:.3f} s/step ({large['step'] / small['step']:.2f}× 11), "
        f"peak {large['peak_mib']:.0f} MiB; {per_teacher:.1f} MiB per extra teacher → about {fits} teachers "
        f"fit in 90% of this machine's {total / 1024:.0f} GiB"
    )


if __name__ == "__main__":
    main()
