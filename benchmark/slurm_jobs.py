"""`--executor slurm`: each queued group of a suite is one Slurm job, submitted through submitit, and the
suite's dependency graph (datasets → teachers → transfers → downstream; loss network → collections →
autoencoders → probes) becomes Slurm dependencies: a job waits `afterok` on the jobs of the groups it needs.

The store's queue stays the one place where a group is claimed (benchmark.run_queue): a job claims its own
group when it starts, so a job, a pull-worker and a resubmitted job never run the same group twice. Each
entry records its job id; running the same command again adopts the jobs still in Slurm's queue and
submits only the groups that have none. The submitting command then shows progress read from the store
until every run has COMPLETED (or leaves at once with --detach; rerun to watch again).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from benchmark.run_queue import (
    CLAIMED,
    FAILED,
    QUEUE,
    QUEUED,
    Claimer,
    ClaimHeartbeat,
    claim_entry,
    enqueue,
    entry_id,
    finish,
    work_of,
)
from benchmark.schedule import group_plan, in_dependency_order
from benchmark.store import RunStore, connect, redact
from mike.errors import UserError
from suites.plan import Planned

WAIT_FOR_DEPENDENCIES_S = 3600  # a job whose dependencies have not COMPLETED (afterok is Slurm's promise)


@dataclass(frozen=True)
class SlurmOptions:
    partition: str | None = None
    cpus_per_job: int = 1
    gpus_per_job: int = 0
    time_min: int = 24 * 60
    mem_gb: float | None = None

    def parameters(self) -> dict:
        """submitit's AutoExecutor parameters (slurm_* ones apply on Slurm only)."""
        params = {"name": "mike-bench", "timeout_min": self.time_min, "cpus_per_task": self.cpus_per_job}
        if self.partition:
            params["slurm_partition"] = self.partition
        if self.gpus_per_job:
            params["gpus_per_node"] = self.gpus_per_job
        if self.mem_gb:
            params["mem_gb"] = self.mem_gb
        return params


def run_queued_group(url: str, key: str, cache_dir: str, device: str, threads: int | None) -> dict:
    """One job's body: claim this group once its dependencies have COMPLETED, run it, mark it done."""
    from benchmark.workers import run_group, set_threads

    set_threads(threads)
    from benchmark.pull_worker import placement
    from benchmark.stages import Workspace

    store = RunStore(connect(url), redact(url))
    me = Claimer.this_process(f"slurm-{os.environ.get('SLURM_JOB_ID', os.getpid())}")
    deadline = time.time() + WAIT_FOR_DEPENDENCIES_S
    while (entry := claim_entry(store, key, me)) is None:
        current = store.db[QUEUE].find_one({"_id": key}, {"state": 1, "runs.hash": 1})
        if current is None:
            raise RuntimeError(f"queue entry {key} is not in {store.url}")
        if all(store.completed(r["hash"]) for r in current["runs"]):
            return {"entry": key, "ran": 0, "why": "its runs had COMPLETED already"}
        if current["state"] == CLAIMED:
            return {"entry": key, "ran": 0, "why": "another worker holds it"}
        if time.time() > deadline:
            raise RuntimeError(
                f"the dependencies of {key} did not COMPLETE within {WAIT_FOR_DEPENDENCIES_S}s"
            )
        time.sleep(2)
    info = {**entry["info"], "worker": me.name, "runs_at_once": None, **placement()}
    ws = Workspace(store, Path(cache_dir), device)
    try:
        with ClaimHeartbeat(store, entry, me):
            records = run_group(ws, work_of(entry), info, lambda event: None)
    except KeyboardInterrupt:  # scancel sends SIGTERM: the run is stored INTERRUPTED; the group waits
        store.db[QUEUE].update_one(
            {"_id": key, "claimed_by": me.as_doc()}, {"$set": {"state": QUEUED}, "$unset": {"claimed_by": ""}}
        )
        raise
    except Exception as exc:
        finish(store, entry, me, error=f"{type(exc).__name__}: {exc}")
        raise
    finish(store, entry, me)
    return {"entry": key, "ran": len(records)}


def live_jobs(job_ids: list[str]) -> set[str]:
    """Which of these Slurm jobs are still pending or running (squeue; accounting is not needed)."""
    if not job_ids:
        return set()
    try:
        out = subprocess.run(
            ["squeue", "-h", "-o", "%i", "-j", ",".join(sorted(set(job_ids)))],
            capture_output=True,
            text=True,
            timeout=30,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise UserError(f"squeue failed ({exc}): is Slurm installed and running here?") from None
    return {line.strip() for line in out.stdout.splitlines() if line.strip()}


def submit(
    store: RunStore,
    url: str,
    plan: list[Planned],
    extra_info: dict,
    folder: Path,
    options: SlurmOptions,
    cache_dir: Path,
    device: str,
    cluster: str = "slurm",
    out=sys.stderr,
) -> tuple[int, int, dict[str, str]]:
    """Queue the plan and submit a job per group without a live one; returns (submitted, adopted, the job
    id of every run still to do)."""
    import submitit

    enqueue(store, plan, extra_info)
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o700)  # the pickled jobs hold the store's URL, and with it any login
    queue = store.db[QUEUE]
    keys = [entry_id(g) for g in in_dependency_order(group_plan(plan, store.completed_hashes()))]
    entries = {
        e["_id"]: e
        for e in queue.find({"_id": {"$in": keys}}, {"runs.hash": 1, "needs": 1, "state": 1, "slurm_job": 1})
    }
    alive = (
        live_jobs([e["slurm_job"] for e in entries.values() if e.get("slurm_job")])
        if cluster == "slurm"
        else set()
    )
    executor = submitit.AutoExecutor(folder=folder, cluster=cluster)
    job_of: dict[str, str] = {}
    submitted = adopted = 0
    threads = options.cpus_per_job if device == "cpu" else None
    for key in keys:
        entry = entries[key]
        job = entry.get("slurm_job")
        if job in alive and entry["state"] in (QUEUED, CLAIMED):
            adopted += 1
        else:
            needs = sorted({job_of[h] for h in entry["needs"] if h in job_of}, key=lambda j: (len(j), j))
            depends = (
                {"dependency": "afterok:" + ":".join(needs), "kill-on-invalid-dep": "yes"} if needs else {}
            )
            executor.update_parameters(**options.parameters(), slurm_additional_parameters=depends)
            job = executor.submit(run_queued_group, url, key, str(cache_dir), device, threads).job_id
            queue.update_one({"_id": key}, {"$set": {"slurm_job": job}})
            submitted += 1
        job_of.update({r["hash"]: job for r in entry["runs"]})
    print(f"slurm: {submitted} job(s) submitted, {adopted} adopted; logs in {folder}", file=out, flush=True)
    return submitted, adopted, job_of


def watch(
    store: RunStore,
    plan: list[Planned],
    job_of: dict[str, str],
    folder: Path,
    poll_s: float = 5.0,
    out=sys.stderr,
) -> int:
    """Progress from the store until every run of the plan has COMPLETED (0), or no job that could still
    finish it is left in Slurm's queue (1). Ctrl-C leaves the jobs running."""
    hashes = {p.spec.hash for p in plan}
    last = None
    while True:
        done = len(hashes & store.completed_hashes())
        running = store.db.runs.count_documents(
            {"status": "RUNNING", "meta.config_hash": {"$in": list(hashes)}}
        )
        failed = store.db[QUEUE].count_documents({"state": FAILED, "runs.hash": {"$in": list(hashes)}})
        line = f"slurm: {done}/{len(hashes)} runs COMPLETED, {running} running, {failed} group(s) failed"
        if line != last:
            print(line, file=out, flush=True)
            last = line
        if done == len(hashes):
            return 0
        if not live_jobs(list(set(job_of.values()))):
            print(
                f"slurm: no job of this suite is left in Slurm's queue, {len(hashes) - done} runs not "
                f"COMPLETED; the jobs' logs are in {folder}; run the same command again to resubmit them",
                file=out,
                flush=True,
            )
            return 1
        time.sleep(poll_s)
