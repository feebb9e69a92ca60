"""`mike-bench`: run the papers' experiments as suites, stored in MongoDB through Sacred.

mike-bench suite single --profile small             # Figure 3 (embedded MongoDB server)
mike-bench suite three --seeds 3 with teacher.steps=400
mike-bench suite losses --svhn-root /data/svhn      # feature-prediction paper, Figures 6–8
mike-bench status
mike-bench report                                    # reports/<date>-<profile>/report.html and .md
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile
import warnings
from pathlib import Path

from benchmark.cli_args import MAX_AUTO_JOBS, MAX_SEEDS, build_parser, parse_with


@contextlib.contextmanager
def open_store(args, client=None):
    """The run store: --mongo-url (through `client` when already connected), else the embedded server."""
    from benchmark.store import RunStore, connect, embedded_name, redact

    if args.mongo_url:
        yield RunStore(client or connect(args.mongo_url), redact(args.mongo_url)), args.mongo_url
        return
    from benchmark.serving import embedded_store, holder

    name = embedded_name(args.workdir / "db")
    served = holder(args.workdir)
    if served and served.get("shared"):  # `mike-bench serve` runs on this workdir: use its server
        print(
            f"mike-bench: using the store served by pid {served['pid']} at {redact(served['url'])}",
            file=sys.stderr,
        )
        yield RunStore(connect(served["url"]), name), served["url"]
        return
    with embedded_store(args.workdir, served, shared=False) as url:
        yield RunStore(connect(url), name), url


def nothing_stored(args) -> bool:
    """The embedded store was never created: reading commands say so instead of creating one to look."""
    from benchmark.store import store_is_empty

    return not args.mongo_url and store_is_empty(args.workdir / "db")


def check_folder(path: Path, option: str) -> None:
    """Refuse, before any work, a folder option that names a file or a place where nothing can be written.
    Nothing is created: the nearest existing folder is tried with a nameless temporary file."""
    from mike.errors import UserError

    existing = next(p for p in (path, *path.parents) if p.exists())
    if not existing.is_dir():
        raise UserError(f"{option} {path}: {existing} is a file, not a folder")
    try:
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as exc:
        raise UserError(f"{option} {path}: cannot write in {existing} ({exc.strerror})") from None


def default_jobs(device: str) -> int:
    """Runs at once when --jobs is not given: one per CPU core on a CPU (single-threaded runs of these
    small networks use a core better than two threads share one run), one per GPU on GPUs."""
    if device.startswith("cuda"):
        import torch

        return max(torch.cuda.device_count(), 1) if device == "cuda" else 1
    return max(1, min(os.cpu_count() or 1, MAX_AUTO_JOBS))


def check_seeds(args) -> None:
    from mike.profiles import ConfigError

    if args.seeds is not None and not 1 <= args.seeds <= MAX_SEEDS:
        raise ConfigError(f"--seeds must be between 1 and {MAX_SEEDS}, got {args.seeds}")


def check_suite_options(args) -> None:
    """Options whose values are wrong whatever the machine: refused before the plan, the store or torch."""
    from mike.profiles import ConfigError

    check_seeds(args)
    if args.jobs is not None and args.jobs < 1:
        raise ConfigError(f"--jobs must be at least 1, got {args.jobs}")
    check_device_name(args.device)
    check_folder(args.workdir, "--workdir")


def check_device_name(device: str | None) -> None:
    from mike.profiles import ConfigError

    if device is not None and not re.fullmatch(r"cpu|cuda(:\d+)?", device):
        raise ConfigError(f"--device {device!r}: use cpu, cuda or cuda:N")


def resolve_device(requested: str | None) -> str:
    """The device to run on; a GPU asked for must be there (this needs torch, so it comes after the cheap
    checks)."""
    import torch

    from mike.profiles import ConfigError

    device = requested or ("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"--device {device}: no CUDA GPU is visible to torch on this machine")
    count = torch.cuda.device_count() if device.startswith("cuda") else 0
    if device.startswith("cuda:") and int(device[5:]) >= count:
        raise ConfigError(f"--device {device}: torch sees {count} GPU(s) here (cuda:0 to cuda:{count - 1})")
    return device


def check_loss_network_weights(plan) -> None:
    """ImageNet AlexNet weights parse as AlexNet's first conv layers before the store opens (not after the
    runs that come before the loss network's)."""
    paths = {
        p.spec.config["path"]
        for p in plan
        if p.spec.config["stage"] == "loss_network" and p.spec.config["source"] == "imagenet"
    }
    for path in sorted(paths):
        from mike.featpred.loss_network import load_imagenet

        load_imagenet(Path(path))


def plan_of(args):
    """The profile and the runs of the suite the arguments name."""
    from mike.profiles import get_profile
    from suites.registry import SuitePaths, build_plan

    profile = get_profile(args.profile).with_overrides(parse_with(args.overrides))
    paths = SuitePaths(args.coco_root, args.alexnet_weights, args.svhn_root, args.stl10_root)
    seeds = list(range(args.seeds)) if args.seeds is not None else None
    return profile, build_plan(args.name, profile, seeds, paths)


def cmd_suite(args) -> int:
    check_suite_options(args)
    profile, plan = plan_of(args)
    repeats = f"seeds 0..{args.seeds - 1}" if args.seeds is not None else "the profile's seeds"
    print(
        f"mike-bench: suite {args.name}, profile {profile.name}, {len(plan)} runs, {repeats}",
        file=sys.stderr,
        flush=True,
    )
    from benchmark.store import connect

    # an unreachable --mongo-url answers now, in seconds, before torch loads
    client = connect(args.mongo_url) if args.mongo_url else None
    if args.executor != "local":  # the runs go to workers or Slurm jobs (benchmark.cli_cluster)
        from benchmark.cli_cluster import enqueue_suite, submit_suite

        return (enqueue_suite if args.executor == "queue" else submit_suite)(args, plan, profile, client)
    from benchmark.executor import run_plan
    from benchmark.workers import WorkerSetup, set_threads

    device = resolve_device(args.device)  # before the embedded store is created: a wrong GPU writes nothing
    check_loss_network_weights(plan)
    jobs = args.jobs or default_jobs(device)
    cores = os.cpu_count() or 1
    threads = max(1, cores // jobs) if device == "cpu" else None
    with open_store(args, client) as (store, url):
        store.ensure_indexes()
        # runs_at_once: how many runs shared the machine while a run's timings were taken
        extra = {"suite": args.name, "profile": profile.name, "store": store.url, "runs_at_once": jobs}
        setup = WorkerSetup(url, args.workdir / "cache", device, threads, extra)
        ws = None
        if jobs == 1:
            set_threads(threads)
            from benchmark.stages import Workspace

            ws = Workspace(store, setup.cache_dir, device)
        print(
            f"store {store.url}; dataset caches in {(args.workdir / 'cache').resolve()}; "
            f"{jobs} run(s) at a time on {device}" + (f", {threads} torch thread(s) each" if threads else ""),
            file=sys.stderr,
            flush=True,
        )
        summary = run_plan(plan, ws or _StoreOnly(store), setup, jobs)
    split = ", ".join(f"{k} {v:.0f}s" for k, v in summary.seconds_by_stage.items()) or "nothing trained"
    print(
        f"suite {args.name} ({profile.name}): {summary.total} runs, {summary.trained} trained, "
        f"{summary.reused} reused, {summary.seconds:.0f}s ({split})"
    )
    if summary.records:
        print(f"bookkeeping (Sacred, MongoDB, artifacts): {summary.bookkeeping_per_run():.3f}s per run")
    return 0


def cmd_worker(args) -> int:
    from benchmark.cli_cluster import run_worker

    return run_worker(args)


class _StoreOnly:
    """What the executor needs of a Workspace when the runs happen in worker processes: the store."""

    def __init__(self, store):
        self.store = store


def _store_to_read(args) -> bool:
    """status and gc: a bad --workdir is refused; an empty one is said so, and no store is created."""
    if not args.mongo_url:
        check_folder(args.workdir, "--workdir")
    if nothing_stored(args):
        print(f"no runs stored yet in {args.workdir}")
        return False
    return True


def cmd_status(args) -> int:
    from benchmark.status import print_status

    if not _store_to_read(args):
        return 0
    with open_store(args) as (store, _url):
        print_status(store, args.profile)
    return 0


def cmd_gc(args) -> int:
    from benchmark.housekeeping import collect

    if not _store_to_read(args):
        return 0
    with open_store(args) as (store, _url):
        print(f"gc {store.url}: {collect(store)}")
    return 0


def cmd_report(args) -> int:
    import time

    from mike.errors import UserError

    started = time.time()
    check_folder(args.out, "--out")
    if not args.mongo_url:
        check_folder(args.workdir, "--workdir")
    if nothing_stored(args):
        raise UserError(
            f"no runs stored yet in {args.workdir}: the store holds no completed runs; run a suite first, "
            "e.g. `mike-bench suite single --profile smoke`"
        )
    with open_store(args) as (store, _url):
        print(f"mike-bench: report from {store.url} into {args.out}", file=sys.stderr, flush=True)
        from benchmark.report.build import ReportError, build_all  # pandas, matplotlib: after that line

        try:
            folders = build_all(store, args.suite, args.profile, args.out)
        except ReportError as exc:
            raise UserError(str(exc)) from None
    for folder in folders:
        print(f"report: {folder / 'report.html'} and {folder / 'report.md'}")
    print(f"built in {time.time() - started:.1f}s; latest: {args.out / 'latest'}")
    return 0


def cmd_export(args) -> int:
    from mike.errors import UserError

    check_seeds(args)
    profile, plan = plan_of(args)
    out = args.out or Path("reports") / "models" / f"{args.name}-{profile.name}"
    check_folder(out, "--out")
    if nothing_stored(args):
        raise UserError(f"no runs stored yet in {args.workdir}: run `mike-bench suite {args.name}` first")
    with open_store(args) as (store, _url):
        from benchmark.export import export_models

        written = export_models(plan, store, out, args.name)
    print(
        f"exported {len(written)} models of suite {args.name} ({profile.name}) to {out}; "
        f"index: {out / 'index.md'}"
    )
    return 0


def cmd_serve(args) -> int:
    from benchmark.serving import serve
    from mike.errors import UserError

    if args.mongo_url:
        raise UserError(
            "serve serves the embedded store of --workdir; a MongoDB at --mongo-url/$MONGO_URL "
            "is served already"
        )

    check_folder(args.workdir, "--workdir")
    return serve(args.workdir, args.port, args.listen)


def cmd_print_config(args) -> int:
    from benchmark.config_files import render_profile
    from mike.profiles import get_profile

    overrides = parse_with(args.overrides)
    print(render_profile(get_profile(args.profile).with_overrides(overrides), overrides), end="")
    return 0


COMMANDS = {
    "suite": cmd_suite,
    "worker": cmd_worker,
    "status": cmd_status,
    "gc": cmd_gc,
    "report": cmd_report,
    "print_config": cmd_print_config,
    "serve": cmd_serve,
    "export": cmd_export,
}


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    # `with key=value ...` may follow the options, where argparse no longer takes positionals: collect it.
    args, extra = parser.parse_known_args(argv)
    takes_with = args.command in ("suite", "print_config", "export")
    if extra and (not takes_with or any(e.startswith("-") for e in extra)):
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    if takes_with:
        args.overrides = [*args.overrides, *extra]
    if getattr(args, "mongo_url", None):
        from benchmark.store import with_credentials

        args.mongo_url = with_credentials(
            args.mongo_url, os.environ.get("MONGO_USER"), os.environ.get("MONGO_PASSWORD")
        )
    # Sacred 0.8.7 imports pkg_resources (hence setuptools<82); its deprecation notice is noise here.
    warnings.filterwarnings("ignore", message="pkg_resources is deprecated")
    from benchmark.interrupts import interrupt_on_sigterm
    from mike.errors import UserError

    interrupt_on_sigterm()
    try:
        return COMMANDS[args.command](args)
    except UserError as exc:
        print(f"mike-bench: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("mike-bench: interrupted; run the same command again to continue", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
