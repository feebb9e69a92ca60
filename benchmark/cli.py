"""`mike-bench`: run the papers' experiments as suites, stored in MongoDB through Sacred.

mike-bench suite single --profile small             # Figure 3 (embedded MongoDB server)
mike-bench suite three --seeds 3 with teacher.steps=400
mike-bench suite losses --svhn-root /data/svhn      # feature-prediction paper, Figures 6–8
mike-bench status
mike-bench report                                    # reports/<date>-<profile>/report.html and .md
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import warnings
from pathlib import Path

SUITE_NAMES = ("single", "three", "eleven", "progressive", "losses", "all")


def parse_with(tokens: list[str]) -> dict[str, object]:
    """Sacred-style overrides: `with key=value ...`, values as Python literals (else plain strings)."""
    from mike.profiles import ConfigError, parse_override

    if not tokens:
        return {}
    if tokens[0] != "with":
        raise ConfigError(
            f"unexpected argument {tokens[0]!r}; overrides go after 'with', e.g. with teacher.steps=10"
        )
    return dict(parse_override(token) for token in tokens[1:])


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--mongo-url",
        default=os.environ.get("MONGO_URL"),
        help="MongoDB URL (default: $MONGO_URL, else an embedded server in --workdir)",
    )
    parser.add_argument(
        "--workdir",
        type=Path,
        default=Path(".mike-bench"),
        help="embedded database and dataset cache (default: ./.mike-bench)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mike-bench", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True, metavar="{suite,status,report}")
    suite = commands.add_parser(
        "suite",
        help="run a suite (reusing every run already COMPLETED)",
        description="Run a suite; COMPLETED runs with the same config are reused.",
    )
    suite.add_argument("name", choices=SUITE_NAMES)
    suite.add_argument("--profile", default="small", choices=("smoke", "small", "paper"))
    suite.add_argument("--seeds", type=int, default=1, help="repeat every run with seeds 0..K-1 (default 1)")
    suite.add_argument(
        "--coco-root", type=Path, default=None, help="a real COCO 2017 root (default: synthetic)"
    )
    suite.add_argument(
        "--alexnet-weights",
        type=Path,
        default=None,
        help="ImageNet AlexNet weights for `losses` (default: the torch hub cache, else a substitute)",
    )
    suite.add_argument("--svhn-root", type=Path, default=None, help="folder with SVHN's *_32x32.mat files")
    suite.add_argument("--stl10-root", type=Path, default=None, help="folder holding stl10_binary/")
    suite.add_argument("--device", default=None, help="cpu or cuda (default: cuda when available)")
    suite.add_argument("overrides", nargs="*", help="with key=value ... (profile overrides)")
    _common(suite)
    status = commands.add_parser("status", help="what is stored: suites, runs by status, what is left to do")
    status.add_argument(
        "--profile",
        default=None,
        choices=("smoke", "small", "paper"),
        help="count what is left for this profile (default: every profile with runs)",
    )
    _common(status)
    report = commands.add_parser(
        "report",
        help="write the report (HTML + Markdown) from what the store holds",
        description="Every stored result beside the paper's figure, table or claim, with a verdict.",
    )
    report.add_argument("--suite", default=None, choices=SUITE_NAMES[:-1], help="one suite (default: all)")
    report.add_argument(
        "--profile", default=None, choices=("smoke", "small", "paper"), help="default: every stored profile"
    )
    report.add_argument(
        "--out", type=Path, default=Path("reports"), help="output folder (default: ./reports)"
    )
    _common(report)
    return parser


@contextlib.contextmanager
def open_store(args):
    from benchmark.store import RunStore, connect, embedded_server, redact

    if args.mongo_url:
        yield RunStore(connect(args.mongo_url), redact(args.mongo_url)), args.mongo_url
        return
    with embedded_server(args.workdir / "db") as url:
        yield RunStore(connect(url), url), url


def cmd_suite(args) -> int:
    import torch

    from benchmark.executor import run_plan
    from benchmark.stages import Workspace
    from mike.profiles import get_profile
    from suites.registry import SuitePaths, build_plan

    profile = get_profile(args.profile).with_overrides(parse_with(args.overrides))
    if args.seeds < 1:
        from mike.profiles import ConfigError

        raise ConfigError(f"--seeds must be at least 1, got {args.seeds}")
    paths = SuitePaths(args.coco_root, args.alexnet_weights, args.svhn_root, args.stl10_root)
    plan = build_plan(args.name, profile, list(range(args.seeds)), paths)
    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    with open_store(args) as (store, url):
        ws = Workspace(store, args.workdir / "cache", device)
        print(
            f"mike-bench: suite {args.name}, profile {profile.name}, {len(plan)} runs, store {store.url}",
            file=sys.stderr,
        )
        summary = run_plan(plan, ws, url, {"suite": args.name, "profile": profile.name, "store": store.url})
    split = ", ".join(f"{k} {v:.0f}s" for k, v in summary.seconds_by_stage.items()) or "nothing trained"
    print(
        f"suite {args.name} ({profile.name}): {summary.total} runs, {summary.trained} trained, "
        f"{summary.reused} reused, {summary.seconds:.0f}s ({split})"
    )
    return 0


def cmd_status(args) -> int:
    from benchmark.status import print_status

    with open_store(args) as (store, _url):
        print_status(store, args.profile)
    return 0


def cmd_report(args) -> int:
    import time

    from benchmark.report.build import build_all

    started = time.time()
    with open_store(args) as (store, _url):
        folders = build_all(store, args.suite, args.profile, args.out)
    for folder in folders:
        print(f"report: {folder / 'report.html'} and {folder / 'report.md'}")
    print(f"built in {time.time() - started:.1f}s; latest: {args.out / 'latest'}")
    return 0


COMMANDS = {"suite": cmd_suite, "status": cmd_status, "report": cmd_report}


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    # `with key=value ...` may follow the options, where argparse no longer takes positionals: collect it.
    args, extra = parser.parse_known_args(argv)
    if extra and (args.command != "suite" or any(e.startswith("-") for e in extra)):
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    if args.command == "suite":
        args.overrides = [*args.overrides, *extra]
    # Sacred 0.8.7 imports pkg_resources (hence setuptools<82); its deprecation notice is noise here.
    warnings.filterwarnings("ignore", message="pkg_resources is deprecated")
    from benchmark.report.build import ReportError
    from benchmark.runs import RunBusyError
    from benchmark.store import StoreError
    from mike.data.tri_class import DatasetError
    from mike.featpred.loss_network import LossNetworkError
    from mike.profiles import ConfigError

    try:
        return COMMANDS[args.command](args)
    except (ConfigError, DatasetError, StoreError, RunBusyError, LossNetworkError, ReportError) as exc:
        print(f"mike-bench: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("mike-bench: interrupted; run the same command again to continue", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
