"""The cluster side of `mike-bench`: `suite --executor queue` (runs queued in the store), `suite --executor
slurm` (a Slurm job per group, through submitit) and `worker` (claims queued runs and runs them)."""

from __future__ import annotations

import sys

from benchmark.cli import check_device_name, check_folder, open_store, resolve_device


def enqueue_suite(args, plan, profile, client) -> int:
    """--executor queue: the plan's runs go into the store's queue; workers run them."""
    from benchmark.run_queue import enqueue

    with open_store(args, client) as (store, _url):
        store.ensure_indexes()
        extra = {"suite": args.name, "profile": profile.name, "store": store.url}
        groups, runs = enqueue(store, plan, extra)
    where = f"--mongo-url {store.url}" if args.mongo_url else f"--workdir {args.workdir}"
    print(
        f"suite {args.name} ({profile.name}): {len(plan) - runs} of {len(plan)} runs COMPLETED already; "
        f"{runs} queued in {groups} group(s) in {store.url}\n"
        f"  run them with `mike-bench worker {where}` on every machine that reaches the store"
        + ("" if args.mongo_url else " (with `mike-bench serve` running, for more than one worker)")
    )
    return 0


def submit_suite(args, plan, profile, client) -> int:
    """--executor slurm: a job per group through submitit, dependencies as afterok; then progress."""
    from benchmark.serving import holder
    from benchmark.slurm_jobs import SlurmOptions, submit, watch
    from mike.errors import UserError

    served = holder(args.workdir)
    if not args.mongo_url and not (served and served.get("shared")):
        raise UserError(
            "--executor slurm needs a store its jobs can reach after this command ends: --mongo-url "
            f"(e.g. the compose MongoDB), or `mike-bench serve --workdir {args.workdir}` running (one node)"
        )
    device = args.device or ("cuda" if args.slurm_gpus_per_job else "cpu")
    options = SlurmOptions(
        args.slurm_partition,
        args.slurm_cpus_per_job,
        args.slurm_gpus_per_job,
        args.slurm_time_min,
        args.slurm_mem_gb,
    )
    folder = (args.workdir / "slurm").resolve()
    with open_store(args, client) as (store, url):
        store.ensure_indexes()
        extra = {"suite": args.name, "profile": profile.name, "store": store.url}
        cache = (args.workdir / "cache").resolve()
        _, _, job_of = submit(store, url, plan, extra, folder, options, cache, device)
        if args.detach:
            print(f"suite {args.name} ({profile.name}): submitted; `mike-bench status` shows the queue")
            return 0
        try:
            return watch(store, plan, job_of, folder)
        except KeyboardInterrupt:
            print("mike-bench: the jobs go on in Slurm; run the same command again to watch", file=sys.stderr)
            return 130


def run_worker(args) -> int:
    from mike.errors import UserError

    if args.threads is not None and args.threads < 1:
        raise UserError(f"--threads must be at least 1, got {args.threads}")
    check_device_name(args.device)
    check_folder(args.workdir, "--workdir")
    from benchmark.store import connect

    client = connect(args.mongo_url) if args.mongo_url else None
    from benchmark.workers import set_threads

    set_threads(args.threads)
    device = resolve_device(args.device)
    with open_store(args, client) as (store, _url):
        from benchmark.pull_worker import work
        from benchmark.run_queue import Claimer
        from benchmark.stages import Workspace

        store.ensure_indexes()
        me = Claimer.this_process(args.name)
        print(f"worker {me.name}: claiming runs from {store.url} on {device}", file=sys.stderr, flush=True)
        summary = work(store, Workspace(store, args.workdir / "cache", device), me, wait=args.wait)
    stages = ", ".join(f"{k} {v}" for k, v in sorted(summary.by_stage().items())) or "none"
    print(
        f"worker {me.name}: {summary.groups} group(s), {len(summary.records)} run(s) ({stages}), "
        f"{summary.failed} failed"
    )
    return 1 if summary.failed else 0
