"""The `mike-bench` command line's grammar: commands, options and `with` overrides. Parsing imports no
torch, so a typo is answered at once."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

DESCRIPTION = "`mike-bench`: run the papers' experiments as suites, stored in MongoDB through Sacred."

SUITE_NAMES = (
    *("single", "three", "eleven", "progressive", "losses", "all"),
    *("bottleneck", "decoder", "scaling", "sequential", "section5"),  # MIKE's Section 5
)
GROUPS = ("all", "section5")  # names of several suites
PROFILE_NAMES = ("smoke", "small", "cpu", "paper")  # mike.profiles.PROFILES, named here to parse without it
MAX_AUTO_JOBS = 8  # beyond this, per-process memory (datasets, models) outweighs the gain
MAX_SEEDS = 1000  # far beyond any power analysis here; a typo's million seeds would only plan for minutes


def parse_with(tokens: list[str]) -> dict[str, object]:
    """Sacred-style overrides: `with key=value ...` (values as Python literals, else plain strings) and
    `with my.json` / `with my.yaml` files of overrides, applied in the order given."""
    from benchmark.config_files import is_config_file, overrides_from_file
    from mike.profiles import ConfigError, parse_override

    if not tokens:
        return {}
    if tokens[0] != "with":
        raise ConfigError(
            f"unexpected argument {tokens[0]!r}; overrides go after 'with', e.g. with teacher.steps=10"
        )
    overrides: dict[str, object] = {}
    for token in tokens[1:]:
        overrides.update(
            overrides_from_file(Path(token)) if is_config_file(token) else [parse_override(token)]
        )
    return overrides


def _version() -> str:
    from importlib import metadata

    try:
        return metadata.version("mike-bench")
    except metadata.PackageNotFoundError:  # pragma: no cover - run from a bare checkout
        return "unknown"


EXECUTORS = ("local", "queue", "slurm")


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--mongo-url",
        default=os.environ.get("MONGO_URL"),
        help="MongoDB URL (default: $MONGO_URL, else an embedded server in --workdir); "
        "$MONGO_USER and $MONGO_PASSWORD, when set, are escaped and added to it",
    )
    parser.add_argument(
        "--workdir",
        type=Path,
        default=Path(".mike-bench"),
        help="embedded database and dataset cache (default: ./.mike-bench)",
    )


def _plan_arguments(parser: argparse.ArgumentParser) -> None:
    """What decides a suite's runs (their config hashes): for `suite`, and for `export` to find them."""
    parser.add_argument("name", choices=SUITE_NAMES)
    parser.add_argument("--profile", default="small", choices=PROFILE_NAMES)
    parser.add_argument(
        "--seeds",
        type=int,
        default=None,
        help="repeat every run with seeds 0..K-1 (default: the profile's; paper: 1 for MIKE, 4 for losses)",
    )
    parser.add_argument(
        "--coco-root", type=Path, default=None, help="a real COCO 2017 root (default: synthetic)"
    )
    parser.add_argument(
        "--alexnet-weights",
        type=Path,
        default=None,
        help="ImageNet AlexNet weights for `losses` (default: the torch hub cache, else a substitute)",
    )
    parser.add_argument("--svhn-root", type=Path, default=None, help="folder with SVHN's *_32x32.mat files")
    parser.add_argument("--stl10-root", type=Path, default=None, help="folder holding stl10_binary/")
    parser.add_argument(
        "overrides", nargs="*", help="with key=value ... or with my.json/my.yaml (profile overrides)"
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mike-bench", description=DESCRIPTION)
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    commands = parser.add_subparsers(
        dest="command", required=True, metavar="{suite,worker,status,gc,report,export,serve,print_config}"
    )
    suite = commands.add_parser(
        "suite",
        help="run a suite (reusing every run already COMPLETED)",
        description="Run a suite; COMPLETED runs with the same config are reused.",
    )
    _plan_arguments(suite)
    suite.add_argument("--device", default=None, help="cpu, cuda or cuda:N (default: cuda when available)")
    suite.add_argument(
        "--jobs",
        type=int,
        default=None,
        help="runs at once, each in its own process (default: one per CPU core, up to "
        f"{MAX_AUTO_JOBS}; one per GPU)",
    )
    suite.add_argument(
        "--executor",
        default="local",
        choices=EXECUTORS,
        help="local: run here (default); queue: only queue the runs in the store, for `mike-bench worker` "
        "processes on any machines that reach it; slurm: one Slurm job per group of runs (submitit), "
        "with the dependencies as afterok",
    )
    slurm = suite.add_argument_group("--executor slurm")
    slurm.add_argument("--slurm-partition", default=None, help="partition (default: the cluster's)")
    slurm.add_argument("--slurm-cpus-per-job", type=int, default=1, help="CPUs per job (default: 1)")
    slurm.add_argument("--slurm-gpus-per-job", type=int, default=0, help="GPUs per job (default: 0)")
    slurm.add_argument("--slurm-time-min", type=int, default=24 * 60, help="time limit per job, minutes")
    slurm.add_argument("--slurm-mem-gb", type=float, default=None, help="memory per job (default: Slurm's)")
    slurm.add_argument(
        "--detach", action="store_true", help="submit and leave; run the same command again to watch"
    )
    _common(suite)
    worker = commands.add_parser(
        "worker",
        help="run queued runs from the store (queued by `suite --executor queue`) until none is left",
        description="Claim the next queued group of runs whose dependencies have COMPLETED, run it, repeat. "
        "Any number of workers on any machines share one store; no run is claimed twice.",
    )
    worker.add_argument("--device", default=None, help="cpu, cuda or cuda:N (default: cuda when available)")
    worker.add_argument("--threads", type=int, default=None, help="torch threads (default: every CPU core)")
    worker.add_argument(
        "--wait", action="store_true", help="keep polling for new runs when the queue is empty"
    )
    worker.add_argument("--name", default=None, help="this worker's name in runs (default: host:pid)")
    _common(worker)
    status = commands.add_parser("status", help="what is stored: suites, runs by status, what is left to do")
    status.add_argument(
        "--profile",
        default=None,
        choices=PROFILE_NAMES,
        help="count what is left for this profile (default: every profile with runs)",
    )
    _common(status)
    gc = commands.add_parser(
        "gc",
        help="reclaim space: mark dead attempts, delete checkpoints and metrics no run needs",
        description="Mark RUNNING attempts whose process is gone as FAILED; delete the checkpoints of "
        "COMPLETED runs and of attempts superseded by a COMPLETED run, and those attempts' metrics. Every "
        "result, final model and COMPLETED run's metrics is kept.",
    )
    _common(gc)
    report = commands.add_parser(
        "report",
        help="write the report (HTML + Markdown) from what the store holds",
        description="Every stored result beside the paper's figure, table or claim, with a verdict.",
    )
    report.add_argument(
        "--suite",
        default=None,
        choices=[n for n in SUITE_NAMES if n not in GROUPS],
        help="one suite (default: all)",
    )
    report.add_argument(
        "--profile", default=None, choices=PROFILE_NAMES, help="default: every stored profile"
    )
    report.add_argument(
        "--out", type=Path, default=Path("reports"), help="output folder (default: ./reports)"
    )
    _common(report)
    export = commands.add_parser(
        "export",
        help="write a suite's trained models (state dicts) with a model card each",
        description="The teachers and encoders of a suite's COMPLETED runs (and the feature-prediction "
        "coders when kept) as torch.save state dicts, each beside a model card, with an index. Give the "
        "options the suite ran with: they decide which runs are its own.",
    )
    _plan_arguments(export)
    export.add_argument(
        "--out", type=Path, default=None, help="output folder (default: reports/models/<suite>-<profile>)"
    )
    _common(export)
    serve = commands.add_parser(
        "serve",
        help="serve the embedded store on 127.0.0.1 (Omniboard, incense, notebooks; other commands use it)",
        description="Serve the embedded store of --workdir on 127.0.0.1 until Ctrl-C. Meanwhile every "
        "mike-bench command on that workdir connects to it instead of starting its own server.",
    )
    serve.add_argument("--port", type=int, default=27017, help="port (default: 27017)")
    serve.add_argument(
        "--listen",
        default="127.0.0.1",
        help="address to listen on (default: 127.0.0.1, this machine only); any other, e.g. 0.0.0.0 for "
        "workers elsewhere, requires MONGO_USER and MONGO_PASSWORD (the login the server then demands)",
    )
    _common(serve)
    print_config = commands.add_parser(
        "print_config",
        help="print a profile's config as the suites will use it (with overrides applied and marked)",
        description="The profile as YAML, after `with key=value ...` / `with my.yaml` overrides.",
    )
    print_config.add_argument("--profile", default="small", choices=PROFILE_NAMES)
    print_config.add_argument("overrides", nargs="*", help="with key=value ... or with my.json/my.yaml")
    return parser
